"""`medadapt_model.json`: what every model folder of the grid says about itself (family, variant, source).

The variant decides how prompts reach the model (`pipeline.models.chat`), so every stage that writes a
model folder from another carries the record along.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

MODEL_RECORD = "medadapt_model.json"


def read_model_record(model_dir: str | Path) -> dict[str, Any]:
    path = Path(model_dir) / MODEL_RECORD
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; every model folder of the grid carries its record (family, variant)"
        )
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("variant") not in ("base", "instruct"):
        raise ValueError(f"{path}: 'variant' must be 'base' or 'instruct', got {record.get('variant')!r}")
    return record


def carry_model_record(source_dir: str | Path, target_dir: str | Path) -> None:
    """Copy the record of the model a stage started from into the folder it writes."""
    shutil.copyfile(Path(source_dir) / MODEL_RECORD, Path(target_dir) / MODEL_RECORD)
