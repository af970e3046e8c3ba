"""The code a job runs, as a digest of its entry modules' import closure.

A rule names the modules its shell command runs (`python -m pipeline.x`); the package modules
they import, statically and inside functions, are found by reading the source (no import, so
DAG-time cost stays small and torch-free). The rule carries the digest of those files' contents
as a parameter: editing one of them reruns exactly the rules that import it, while moving or
re-cloning a checkout (new paths, new modification times, same contents) reruns nothing.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = "pipeline"
SRC = Path(__file__).resolve().parents[2]


def module_file(module: str, src: Path = SRC) -> Path | None:
    """The source file of a package module (`pipeline.a.b`), or None for a name that is not one."""
    base = src.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _parents(module: str) -> list[str]:
    """`pipeline.a.b` → [`pipeline`, `pipeline.a`]: packages whose `__init__` runs first."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


# Where statements nest: an import is a statement, so the walk skips every expression.
STATEMENT_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every statement of `tree` except those under `if TYPE_CHECKING:` (never run)."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            for field in STATEMENT_FIELDS:
                children = getattr(node, field, None)
                if isinstance(children, list):
                    todo.extend(children)
    return nodes


def _imported(path: Path, module: str) -> frozenset[str]:
    """Package modules named by the import statements of `path` (at any depth, run-time only)."""
    stat = path.stat()
    return _imported_version(path, module, stat.st_mtime_ns, stat.st_size)


@cache
def _imported_version(path: Path, module: str, mtime_ns: int, size: int) -> frozenset[str]:
    """`_imported`, parsed once per version of the file (most rules share most modules: parsing
    each closure afresh took a second of every dry run)."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            # `from pipeline.a import b` may name a module b, or an object of pipeline.a.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(n for n in names if n == PACKAGE or n.startswith(PACKAGE + "."))


@cache
def import_closure(entry: str, src: Path = SRC) -> tuple[str, ...]:
    """Every package module `entry` runs: itself, its imports, theirs, and their packages."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        module = todo.pop()
        path = module_file(module, src)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo.extend(_parents(module))
        todo.extend(_imported(path, module))
    if entry not in seen:
        raise ValueError(f"{entry}: no such module under {src}")
    return tuple(sorted(seen))


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _contents_digest(path, stat.st_mtime_ns, stat.st_size)


@cache
def _contents_digest(path: Path, mtime_ns: int, size: int) -> str:
    """sha256 of a file, read once per version of it (`mtime_ns` and `size` key the cache)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entry_module(name: str, src: Path = SRC) -> str:
    """What `python -m name` runs: the module, or a package's `__main__`."""
    return f"{name}.__main__" if src.joinpath(*name.split("."), "__main__.py").is_file() else name


def code_files(*entries: str, src: Path = SRC) -> list[Path]:
    """The source files of what `python -m` runs for each of `entries`, with their imports."""
    modules = sorted({m for entry in entries for m in import_closure(entry_module(entry, src), src)})
    return [path for m in modules if (path := module_file(m, src)) is not None]


def code_digest(*entries: str, src: Path = SRC) -> str:
    """A digest of the closure's files, by path relative to `src` and contents (16 hex digits)."""
    digest = hashlib.sha256()
    for path in code_files(*entries, src=src):
        digest.update(f"{path.relative_to(src).as_posix()}\0{_file_digest(path)}\n".encode())
    return digest.hexdigest()[:16]


def files_digest(paths: list[Path]) -> str:
    """A digest of files beside the code (config-side tables a job reads), by contents and order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{_file_digest(Path(path))}\n".encode())
    return digest.hexdigest()[:16]
