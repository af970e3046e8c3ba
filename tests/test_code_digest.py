"""A rule's code is the import closure of the modules its shell command runs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.dag.code_digest import SRC, code_digest, entry_module, import_closure
from pipeline.tasks.readers import READERS, reader_module

REPO = Path(__file__).resolve().parents[1]
# Fetching is pinned by revision and checksums: a fetcher edit must not download data again.
NO_CODE = {"fetch_data"}


def rules() -> dict[str, str]:
    """Every rule's text, by name."""
    out = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=(?:rule|checkpoint) )", path.read_text())[1:]:
            out[re.match(r"\w+ (\w+):", block).group(1)] = block
    return out


def shell_modules(block: str) -> list[str]:
    """The package modules a rule's shell command runs (`python -m M`, a launcher's `-- M`)."""
    return list(dict.fromkeys(re.findall(r"(?:python -m|--) (pipeline[\w.]*)", block)))


def code_entries(block: str) -> list[str]:
    call = re.search(r"code=(?:lambda wc: )?code\(([^)]*)\)", block)
    return re.findall(r'"(pipeline[\w.]*)"', call.group(1)) if call else []


@pytest.mark.parametrize("rule", sorted(rules()))
def test_a_rules_code_is_what_its_shell_runs(rule):
    block = rules()[rule]
    expected = [] if rule in NO_CODE else shell_modules(block)
    assert code_entries(block) == expected


def runtime_modules(code: str) -> set[str]:
    """The package modules in sys.modules after running `code` in a fresh interpreter."""
    script = f"import sys\n{code}\nprint(' '.join(m for m in sys.modules if m.split('.')[0] == 'pipeline'))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


ENTRIES = sorted({m for block in rules().values() for m in shell_modules(block)})


@pytest.mark.parametrize("entry", ENTRIES)
def test_the_closure_holds_every_module_an_entry_imports(entry):
    module = entry_module(entry)
    assert runtime_modules(f"import {module}") <= set(import_closure(module))


LOAD_READER = "from pipeline.tasks.readers import get_reader\nget_reader"


def test_a_datasets_extraction_runs_its_reader():
    """Readers are imported by name at run time, so extraction's code adds the dataset's reader."""
    for name in READERS:
        imported = runtime_modules(f"import pipeline.tasks.extract\n{LOAD_READER}({name!r})")
        assert imported <= set(import_closure("pipeline.tasks.extract")) | set(
            import_closure(reader_module(name))
        ), name


def test_the_digest_follows_contents_not_place(tmp_path):
    moved = tmp_path / "elsewhere" / "src"
    shutil.copytree(SRC, moved, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for entry in ENTRIES:
        assert code_digest(entry, src=moved) == code_digest(entry)
    # Editing a module changes the digest of exactly the entries that import it.
    (moved / "pipeline" / "evaluate" / "metrics.py").write_text(
        (SRC / "pipeline" / "evaluate" / "metrics.py").read_text() + "\n# edited\n"
    )
    import_closure.cache_clear()
    changed = {entry for entry in ENTRIES if code_digest(entry, src=moved) != code_digest(entry)}
    assert changed == {e for e in ENTRIES if "pipeline.evaluate.metrics" in import_closure(entry_module(e))}
    assert "pipeline.evaluate.score" in changed and "pipeline.train.sft" not in changed


def test_extraction_is_not_reached_by_the_config_check():
    """Editing the config check or a training stage must not re-extract every dataset."""
    closure = import_closure("pipeline.tasks.extract")
    assert not [m for m in closure if m.startswith(("pipeline.dag", "pipeline.train"))]
