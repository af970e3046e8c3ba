"""The resumable state directory: Trainer checkpoints, their completeness, exports and publishing.

Layout of STATE_DIR (outside any Snakemake output, so it survives a failed job)::

    run.json              fingerprint of the run; a different run wipes the directory
    checkpoint-<N>/       Trainer checkpoints (DeepSpeed shards, optimizer, RNG, trainer_state.json)
      medadapt_complete   written after every rank finished saving: only these are resumed
    exports/step-<N>/     kept checkpoints as plain Hugging Face checkpoints
    final/                the final model (the last checkpoint's model files), before it is published
    datasets/             the memory-mapped Arrow cache of the token blocks
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, canonical_json, write_text

COMPLETE_MARKER = "medadapt_complete"
FINGERPRINT = "run.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# Everything in a Trainer checkpoint that is training state rather than the model itself.
_STATE_FILES = re.compile(
    r"^(optimizer.*|scheduler.*|scaler.*|rng_state.*|trainer_state\.json|training_args\.bin|latest|"
    rf"zero_to_.*\.py|{COMPLETE_MARKER})$"
)


def checkpoint_step(path: Path) -> int | None:
    match = _CHECKPOINT.match(path.name)
    return int(match.group(1)) if match and path.is_dir() else None


def newest_complete_checkpoint(state_dir: Path) -> Path | None:
    """The highest-step checkpoint that every rank finished writing, if any."""
    if not state_dir.is_dir():
        return None
    complete = [
        p for p in state_dir.iterdir() if checkpoint_step(p) is not None and (p / COMPLETE_MARKER).is_file()
    ]
    return max(complete, key=checkpoint_step, default=None)


def resume_message(state_dir: Path, resume: Path | None, total_steps: int) -> str:
    """The job log's line on where this run starts: from scratch, from a checkpoint, or publishing."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    if resume is None:
        return f"[{now}] CPT starts from step 0 of {total_steps}: no complete checkpoint in {state_dir}"
    step = checkpoint_step(resume)
    if step is not None and step >= total_steps:
        return (
            f"[{now}] CPT resumed from {resume} (step {step} of {total_steps}): publishing without training"
        )
    return f"[{now}] CPT resumed from {resume} (step {step} of {total_steps})"


def mark_complete(checkpoint: Path) -> None:
    write_text(checkpoint / COMPLETE_MARKER, "")


def prepare_state_dir(state_dir: Path, fingerprint: dict[str, Any]) -> None:
    """Make STATE_DIR fit to resume this run: wipe another run's state, drop partial checkpoints."""
    recorded = state_dir / FINGERPRINT
    if recorded.is_file() and json.loads(recorded.read_text(encoding="utf-8")) != json.loads(
        canonical_json(fingerprint)
    ):
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    for path in state_dir.iterdir():
        partial = checkpoint_step(path) is not None and not (path / COMPLETE_MARKER).is_file()
        if partial or path.name == "final":
            shutil.rmtree(path)
    write_text(recorded, canonical_json(fingerprint) + "\n")


def export_model(checkpoint: Path, target: Path, extra_files: list[Path]) -> None:
    """Copy the Hugging Face model files of a Trainer checkpoint (not its training state) to `target`."""
    with atomic_dir(target) as tmp:
        for path in checkpoint.iterdir():
            if path.is_file() and not _STATE_FILES.match(path.name):
                _link_or_copy(path, tmp / path.name)
        for path in extra_files:
            shutil.copy2(path, tmp / path.name)


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Hard-link (no copy of the weights), else copy. Files here are only ever replaced, never edited."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def publish(output_dir: Path, parts: dict[str, Path], manifest: dict[str, Any]) -> None:
    """Assemble `output_dir` from state-dir folders (hard links where possible) and move it in at once.

    `parts` maps a path inside `output_dir` ("" for its root) to the folder that fills it.
    """
    with atomic_dir(output_dir) as tmp:
        for inside, source in parts.items():
            shutil.copytree(source, tmp / inside, copy_function=_link_or_copy, dirs_exist_ok=True)
        (tmp / "cpt_run.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
