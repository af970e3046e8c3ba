"""The worked examples of the docs run as written (docs/extending.md, docs/troubleshooting.md)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import pipeline.tasks.readers as readers
from pipeline.models import families

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def sections(page: str) -> dict[str, list[tuple[str, str, str]]]:
    """`## ` title -> its fenced blocks as (language, info, body)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    out = {}
    for chunk in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        title, body = chunk.split("\n", 1)
        out[title.strip()] = [(m[1], m[2].strip(), m[3]) for m in FENCE.finditer(body)]
    return out


def run_blocks(blocks: list[tuple[str, str, str]], folder: Path) -> None:
    """Write the `file=` blocks, run the python ones in order in one namespace, inside `folder`."""
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for language, info, body in blocks:
        if info.startswith("file="):
            path = folder / info.removeprefix("file=")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
            package = path.parent.relative_to(folder).as_posix()
            if package.startswith("src/pipeline/"):  # a new module of the package: importable from here
                module = sys.modules[package.removeprefix("src/").replace("/", ".")]
                module.__path__.append(str(path.parent))
        elif language == "python":
            exec(compile(body, f"<{info or 'docs'}>", "exec"), namespace)


EXTENDING = sections("extending.md")
TROUBLESHOOTING = sections("troubleshooting.md")


def isolated_run(blocks: list[tuple[str, str, str]], folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run `blocks` in `folder`; registries, package paths and modules they add are undone after."""
    monkeypatch.chdir(folder)
    monkeypatch.setattr(readers, "READERS", dict(readers.READERS))
    monkeypatch.setattr(families, "FAMILIES", dict(families.FAMILIES))
    monkeypatch.setattr(readers, "__path__", list(readers.__path__))
    before = set(sys.modules)
    try:
        run_blocks(blocks, folder)
    finally:
        for name in set(sys.modules) - before:  # the modules the blocks wrote
            if str(getattr(sys.modules[name], "__file__", "")).startswith(str(folder)):
                del sys.modules[name]


@pytest.mark.parametrize("title", list(EXTENDING))
def test_extending_examples_run(title: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = EXTENDING[title]
    assert any(language == "python" and not info for language, info, _ in blocks), title
    isolated_run(blocks, tmp_path, monkeypatch)


@pytest.mark.parametrize("title", [t for t, blocks in TROUBLESHOOTING.items() if blocks])
def test_troubleshooting_errors_are_the_ones_quoted(
    title: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated_run(TROUBLESHOOTING[title], tmp_path, monkeypatch)


def test_the_guides_cover_every_extension_point() -> None:
    assert set(EXTENDING) == {
        "Add a dataset",
        "Add a reader",
        "Add a metric",
        "Add an arm",
        "Add a model family",
    }
