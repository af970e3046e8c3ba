"""The package is layered: no import cycles between its parts, DAG-time code torch-free, evaluation
apart from training. Read from the source (`ast`), so the checks import nothing they check.

Imports under `if TYPE_CHECKING:` never run and never count. An import inside a function runs when
the function is called: it counts for the layering (a dependency all the same), and for what the
workflow loads at DAG time only in the modules whose functions the workflow calls.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from conftest import REPO
from pipeline.settings import STAGES

SRC = REPO / "src"
# What DAG-time code must never load: the training and inference stacks.
HEAVY = {"torch", "transformers", "peft", "trl", "deepspeed", "vllm", "accelerate", "bitsandbytes"}
# Modules of the stage packages, beside their settings, that the DAG reads: the config's own tables
# (model families and sources, data sources, the dataset registry) for cross-references and targets.
DECLARATIONS = {
    "pipeline.models.families",
    "pipeline.models.sources",
    "pipeline.data.sources",
    "pipeline.tasks.registry",
}
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((SRC / "pipeline").rglob("*.py"))}


def import_nodes(nodes: list[ast.AST], eager: bool) -> list[ast.Import | ast.ImportFrom]:
    """The import statements among `nodes` and under them that may run; `eager`: on import alone."""
    found: list[ast.Import | ast.ImportFrom] = []
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.extend(import_nodes(node.orelse, eager))
        elif not (eager and isinstance(node, FUNCTIONS)):
            children = [c for c in ast.iter_child_nodes(node) if not isinstance(c, ast.expr)]
            found.extend(import_nodes(children, eager))
    return found


@cache
def imports(module: str, eager: bool = False) -> frozenset[str]:
    """Every name `module` imports, absolute: `from a import b` gives `a` and `a.b`."""
    path = MODULES[module]
    names: set[str] = set()
    for node in import_nodes(ast.parse(path.read_text(encoding="utf-8")).body, eager):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            package = module.split(".")[: module.count(".") + 1 - node.level + (path.name == "__init__.py")]
            base = ".".join([*package, *([node.module] if node.module else [])])
        names.add(base)
        names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def package_imports(module: str, eager: bool = False) -> set[str]:
    """The package modules `module` imports, with the packages whose `__init__` runs first."""
    named = {n for n in imports(module, eager) if n in MODULES}
    return {".".join(n.split(".")[:i]) for n in named for i in range(2, n.count(".") + 2)}


def closure(roots: set[str], eager: bool = False) -> set[str]:
    """`roots` and every package module they import, transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(package_imports(module, eager))
    return seen


def part(module: str) -> str:
    """The top-level subpackage or module of the package that `module` belongs to."""
    return module.split(".")[1] if "." in module else module


def test_the_packages_parts_import_each_other_without_cycles():
    edges: dict[str, set[str]] = {}
    for module in MODULES:
        edges.setdefault(part(module), set()).update(part(m) for m in package_imports(module))
    cycles = []
    for start, targets in sorted(edges.items()):
        reached, todo = set(), list(targets - {start})
        while todo:
            node = todo.pop()
            if node not in reached:
                reached.add(node)
                todo.extend(edges[node] - {node})
        if start in reached:
            cycles.append(start)
    assert not cycles, f"parts on an import cycle: {cycles}"


def workflow_calls() -> set[str]:
    """The modules whose functions the workflow calls: those the Snakefile and its rules import, the
    DAG package, and the stage settings the grid loads by name (`pipeline.settings.STAGES`)."""
    workflow = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    pattern = re.compile(r"^\s*(?:from|import)\s+(pipeline[\w.]*)", re.MULTILINE)
    named = {m for path in workflow for m in pattern.findall(path.read_text(encoding="utf-8"))}
    assert "pipeline.dag.grid" in named
    dag = {m for m in MODULES if part(m) == "dag"}
    return named | dag | {spec.split(":")[0] for spec in STAGES.values()}


def test_dag_time_code_loads_no_training_or_inference_stack():
    called = workflow_calls()
    loaded = closure(called | {n for m in called for n in package_imports(m)}, eager=True)
    heavy = {m: HEAVY & {n.split(".")[0] for n in imports(m, eager=m not in called)} for m in loaded}
    assert not {m: names for m, names in heavy.items() if names}


def test_evaluation_imports_nothing_from_training():
    evaluation = {m for m in MODULES if part(m) == "evaluate"}
    assert not [m for m in closure(evaluation) if part(m) == "train"]


def test_the_dag_package_reads_only_settings_and_declarations_of_the_stages():
    stages = {part(m) for m in MODULES if m.count(".") == 1 and MODULES[m].name == "__init__.py"} - {"dag"}
    dag = {m for m in MODULES if part(m) == "dag"}
    read = {n for m in dag for n in package_imports(m) if part(n) in stages and n.count(".") > 1}
    assert not {m for m in read if not m.rsplit(".", 1)[1].endswith("settings")} - DECLARATIONS
