"""The conda environments (workflow/envs/) install what their rules import, pinned as in pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# Imports a rule's environment may lack, and why.
OPTIONAL = {
    "vllm": "the vLLM backend runs in the vllm environment (generate with backend: vllm)",
    "bitsandbytes": "QLoRA only, checked up front (`require_quantization_support`); in the training env",
    "lm_eval": "a test-only reference implementation",
    "mergekit": "a test-only reference implementation",
    "seqeval": "a test-only reference implementation",
    "nervaluate": "a test-only reference implementation",
    "snakemake": "imported by Snakemake-side helpers, never inside a job",
    "deepspeed": "CPT with ZeRO only; in the training env",
}


def pyproject_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    return {canonical(Requirement(s).name): Requirement(s) for s in specs}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def env_requirements(env: Path) -> dict[str, Requirement]:
    spec = yaml.safe_load(env.read_text(encoding="utf-8"))
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    return {canonical(Requirement(p).name): Requirement(p) for p in pip if not p.startswith("-")}


@cache
def rule_modules() -> dict[str, set[str]]:
    """env file name -> the `python -m pipeline.…` modules its rules run."""
    out: dict[str, set[str]] = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"^rule ", smk.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
            env = re.search(r'"\.\./envs/(\w+)\.yaml"', block)
            modules = set(re.findall(r"-m (pipeline[\w.]*)", block))
            modules |= set(re.findall(r"-- (pipeline[\w.]*)", block))  # through the launcher
            if env and modules:
                out.setdefault(env.group(1), set()).update(modules)
    return out


def module_file(name: str) -> Path | None:
    path = SRC / Path(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imports(module: str) -> set[str]:
    """Top-level names of the third-party modules `module` imports, following pipeline imports."""
    seen, todo, found = set(), [module], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        if path.name != "__main__.py" and module_file(f"{name}.__main__"):
            todo.append(f"{name}.__main__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target.startswith("pipeline"):
                    todo.append(target)
                else:
                    found.add(target.split(".")[0])
    return {n for n in found if n not in sys.stdlib_module_names and n != "__future__"}


@cache
def _packages() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def distributions(top_level: str) -> set[str]:
    return {canonical(d) for d in _packages().get(top_level, [top_level])}


def test_env_pins_match_pyproject() -> None:
    pinned = pyproject_requirements()
    for env in sorted((ROOT / "workflow" / "envs").glob("*.yaml")):
        for name, requirement in env_requirements(env).items():
            assert name in pinned, f"{env.name}: {name} is not a dependency in pyproject.toml"
            assert requirement.specifier == pinned[name].specifier, (
                f"{env.name}: {requirement} but pyproject.toml has {pinned[name]}"
            )


@pytest.mark.parametrize("env", sorted(rule_modules()))
def test_env_installs_what_its_rules_import(env: str) -> None:
    installed = set(env_requirements(ROOT / "workflow" / "envs" / f"{env}.yaml"))
    missing = {}
    for module in sorted(rule_modules()[env]):
        for top in sorted(imports(module)):
            if top in OPTIONAL or top == "pipeline":
                continue
            if not distributions(top) & installed:
                missing.setdefault(top, []).append(module)
    assert not missing, f"workflow/envs/{env}.yaml lacks what its rules import: {missing}"


def test_container_definitions_install_this_package_from_existing_files() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = extras["optional-dependencies"]
    apptainer = (ROOT / "workflow" / "containers" / "medadapt.def").read_text(encoding="utf-8")
    files = re.search(r"^%files\n(.*?)^%", apptainer, re.MULTILINE | re.DOTALL)
    assert files is not None
    for line in files.group(1).split("\n"):
        if line.strip():
            assert (ROOT / line.split()[0]).exists(), line
    docker = (ROOT / "workflow" / "containers" / "Dockerfile").read_text(encoding="utf-8")
    for line in re.findall(r"^COPY (.+) /opt/medadapt/", docker, re.MULTILINE):
        assert all((ROOT / name).exists() for name in line.split()), line
    for text in (apptainer, docker):
        extra = re.search(r'pip install --no-cache-dir "/opt/medadapt\[(\w+)\]"', text)
        assert extra is not None and extra.group(1) in extras
        assert "MEDADAPT_CODE_COMMIT" in text  # provenance without a git checkout
