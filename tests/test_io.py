"""Atomic outputs honour the umask: a lab group can read what the workflow publishes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

CODE = """
import sys
from pathlib import Path
from pipeline.io import atomic_dir, write_json
out = Path(sys.argv[1])
write_json(out / "file.json", {"a": 1})
with atomic_dir(out / "model") as tmp:
    write_json(tmp / "config.json", {})
"""


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_published_outputs_get_the_umasks_modes(tmp_path, umask, file_mode, dir_mode):
    subprocess.run(
        [sys.executable, "-c", f"import os; os.umask({umask}); exec({CODE!r})", str(tmp_path)], check=True
    )
    mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)  # noqa: E731
    assert mode(tmp_path / "file.json") == file_mode
    assert mode(tmp_path / "model") == dir_mode and mode(tmp_path / "model" / "config.json") == file_mode


def test_load_yaml_reads_what_safe_load_reads():
    """libyaml where PyYAML has it, the same values as the pure-Python safe loader."""
    import yaml

    from conftest import REPO
    from pipeline.io import load_yaml

    for path in [REPO / "workflow/schemas/config.schema.yaml", *sorted((REPO / "config").rglob("*.yaml"))]:
        text = path.read_text(encoding="utf-8")
        assert load_yaml(text) == yaml.safe_load(text), path
    with pytest.raises(yaml.YAMLError):
        load_yaml("a: [1, 2")
