"""Where a model folder came from: its run record (`medadapt_run.json`) and its model card (`README.md`).

Every writer of a model folder (base models, SFT/IT/RoT, RPO, CPT and its kept checkpoints, merges,
checkpoint arms) calls `write_provenance` on the folder before it is moved into place. The run record
is machine-readable: the code's git commit and dirty flag, the hash of the stage's settings, the
resolved settings, the inputs' SHA-256 checksums, the library versions and the wall time, plus the
lineage (the hub model at the root of the folder's ancestry, with its revision). The card is the same
in the Hugging Face hub's format (YAML front matter) for a person; `python -m pipeline.provenance card`
adds the summary's evaluation rows to it once they exist. Torch-free: Snakemake rules import it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from pipeline.io import canonical_json, file_sha256, write_json, write_text

RUN_RECORD = "medadapt_run.json"
CARD = "README.md"
SCHEMA_VERSION = 1
# The repository the pipeline package lives in (src/pipeline/ -> the root).
CODE_ROOT = Path(__file__).resolve().parents[2]
# Paths whose uncommitted changes make the code "dirty" (results/ and runs/ are ignored by git).
CODE_PATHS = ("src", "workflow", "config", "Snakefile", "pyproject.toml")
# Set where the code travels without its .git folder (a container image, a tarball).
COMMIT_ENV = "MEDADAPT_CODE_COMMIT"
LIBRARIES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "accelerate",
    "deepspeed",
    "datasets",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "bitsandbytes",
    "vllm",
    "lm-eval",
    "polars",
    "numpy",
    "snakemake",
    "tensorboard",
)
# Hub metadata `relation` of each method to its parent (https://huggingface.co/docs/hub/model-cards).
RELATIONS = {"sft": "finetune", "rpo": "finetune", "cpt": "finetune", "merge": "merge"}
# Around a stage's own card section (e.g. the merge method), so that a refreshed card keeps it.
DETAILS_START, DETAILS_END = "<!-- stage details -->", "<!-- /stage details -->"


def code_state(root: Path = CODE_ROOT) -> dict[str, Any]:
    """`{"commit": sha, "dirty": bool}` of the code in `root`; from $MEDADAPT_CODE_COMMIT without git."""
    try:
        commit = _git(root, "rev-parse", "HEAD")
        dirty = bool(_git(root, "status", "--porcelain", "--", *CODE_PATHS))
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = os.environ.get(COMMIT_ENV) or None, None
    return {"commit": commit, "dirty": dirty}


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def commit_label(state: Mapping[str, Any]) -> str | None:
    """The commit as one string: the SHA, `-dirty` appended when the code had uncommitted changes."""
    if state["commit"] is None:
        return None
    return state["commit"] + ("-dirty" if state["dirty"] else "")


def config_hash(settings: Any) -> str:
    """SHA-256 of the settings' canonical JSON: equal settings, equal hash, whatever the key order."""
    return hashlib.sha256(canonical_json(settings).encode()).hexdigest()


def checksum(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file; of a folder, SHA-256 of its `sha256sum`-style listing (sorted relative paths)."""
    path = Path(path)
    if path.is_file():
        return file_sha256(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or folder to checksum")
    files = sorted(p for p in path.rglob("*") if p.is_file())
    listing = "".join(f"{file_sha256(p)}  {p.relative_to(path).as_posix()}\n" for p in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries a model depends on (absent ones are left out)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def read_run_record(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = Path(folder) / RUN_RECORD
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: invalid JSON ({err.msg}, line {err.lineno})") from err


def lineage(parent: str | os.PathLike[str]) -> dict[str, Any]:
    """The root model of `parent`'s ancestry, from its run record: hub id (or source) and revision."""
    record = read_run_record(parent)
    if record is None:
        return {"id": os.path.relpath(parent), "revision": None, "hub": False}
    return record["base_model"]


def model_reference(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """A model folder as an input of another: its path and, when medadapt made it, its run id."""
    record = read_run_record(folder) or {}
    return {"path": os.path.relpath(folder), "run_id": record.get("run_id")}


def adapter_base_name(parent: str | os.PathLike[str]) -> str:
    """What a PEFT adapter trained on `parent` names as its base.

    The hub id when `parent` is an untouched hub model (`from_pretrained` then finds it anywhere);
    otherwise the parent folder relative to the working directory (the results folder's layout).
    """
    record = read_run_record(parent)
    if record is not None and record["method"] == "base" and record["base_model"]["hub"]:
        return record["base_model"]["id"]
    return os.path.relpath(parent)


def name_adapter_base(adapter_dir: str | os.PathLike[str], parent: str | os.PathLike[str]) -> None:
    """Rewrite `adapter_config.json`'s `base_model_name_or_path` (and `revision`) as `adapter_base_name`."""
    path = Path(adapter_dir) / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = adapter_base_name(parent)
    base = lineage(parent)
    if config["base_model_name_or_path"] == base["id"] and base.get("revision"):
        config["revision"] = base["revision"]
    write_json(path, config)


@dataclass
class RunRecorder:
    """Collects one model-writing job's provenance; `write` puts record and card into a folder.

    Start it when the job starts (the wall time runs from there).
    """

    method: str
    settings: dict[str, Any]
    inputs: dict[str, str | os.PathLike[str]] = field(default_factory=dict)
    parent: str | os.PathLike[str] | None = None
    base_model: dict[str, Any] | None = None
    started: float = field(default_factory=time.time)

    def record(self, output: str | os.PathLike[str], **extra: Any) -> dict[str, Any]:
        """The run record of the folder `output` (its name: the last two path parts, model/arm)."""
        finished = time.time()
        code = code_state()
        inputs = {
            role: {"path": os.path.relpath(path), "sha256": checksum(path)}
            for role, path in self.inputs.items()
        }
        settings_hash = config_hash(self.settings)
        parent = None if self.parent is None else model_reference(self.parent)
        identity = {"method": self.method, "config": settings_hash, "inputs": inputs, "code": code}
        return {
            "schema": SCHEMA_VERSION,
            "name": folder_name(output),
            "run_id": config_hash(identity)[:16],
            "method": self.method,
            "base_model": self.base_model or lineage(self.parent or output),
            "parent": parent,
            "code": code,
            "config_hash": settings_hash,
            "settings": self.settings,
            "inputs": inputs,
            "libraries": library_versions(),
            "host": platform.node(),
            "started": _utc(self.started),
            "finished": _utc(finished),
            "wall_seconds": round(finished - self.started, 3),
            **extra,
        }

    def write(
        self, folder: str | os.PathLike[str], output: str | os.PathLike[str], details: str = "", **extra: Any
    ) -> dict[str, Any]:
        """Write the run record and the card of `output` into `folder` (its temporary twin, or itself)."""
        record = self.record(output, **extra)
        write_provenance(folder, record, details)
        return record


def folder_name(output: str | os.PathLike[str]) -> str:
    """`model/arm` of `results/models/model/arm`; `model/arm@step-N` of a kept CPT checkpoint."""
    parts = Path(output).parts
    if len(parts) >= 4 and parts[-2] == "checkpoints":
        return f"{parts[-4]}/{parts[-3]}@{parts[-1]}"
    return "/".join(parts[-2:])


def _utc(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def write_provenance(folder: str | os.PathLike[str], record: dict[str, Any], details: str = "") -> None:
    write_json(Path(folder) / RUN_RECORD, record)
    write_text(Path(folder) / CARD, model_card(record, details))


def card_metadata(
    record: Mapping[str, Any], evaluations: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The card's YAML front matter (hub keys: base_model, base_model_relation, tags, model-index)."""
    base = record["base_model"]
    meta: dict[str, Any] = {"library_name": "transformers"}
    if record["method"] != "base" and base["hub"]:  # the hub accepts hub ids only
        meta["base_model"] = base["id"]
        if record["method"] in RELATIONS:
            meta["base_model_relation"] = RELATIONS[record["method"]]
    meta["tags"] = ["medadapt", record["method"]]
    meta["medadapt"] = {
        "base_model": base["id"],
        "base_model_revision": base.get("revision"),
        "run_id": record["run_id"],
        "code_commit": record["code"]["commit"],
        "code_dirty": record["code"]["dirty"],
        "config_hash": record["config_hash"],
    }
    if evaluations:
        meta["model-index"] = [{"name": record["name"], "results": _model_index(evaluations)}]
    return meta


def _model_index(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results = []
    for row in rows:
        results.append(
            {
                "task": {"type": "text-generation", "name": row["task"]},
                "dataset": {
                    "name": row["dataset"],
                    "type": row["dataset"],
                    "config": f"{row['language']}/{row['subtask']}",
                    "split": "test",
                },
                "metrics": [{"type": row["metric"], "value": round(float(row["value"]), 4)}],
            }
        )
    return results


def model_card(
    record: Mapping[str, Any], details: str = "", evaluations: list[dict[str, Any]] | None = None
) -> str:
    """The card of a run record: front matter, lineage, method and settings, data, code, evaluation."""
    front = yaml.safe_dump(card_metadata(record, evaluations), sort_keys=False, allow_unicode=True)
    base = record["base_model"]
    revision = f" at revision `{base['revision']}`" if base.get("revision") else ""
    parent = record["parent"]
    lines = [
        f"---\n{front}---",
        f"# {record['name']}",
        "",
        f"Made by medadapt's `{record['method']}` stage.",
        "",
        f"- **Base model:** `{base['id']}`{revision}",
    ]
    if parent:
        lines.append(f"- **Parent:** `{parent['path']}` (run `{parent['run_id']}`)")
    code = record["code"]
    dirty = " with uncommitted changes" if code["dirty"] else ""
    lines += [
        f"- **Code:** commit `{code['commit']}`{dirty}",
        f"- **Run:** `{record['run_id']}`, settings hash `{record['config_hash'][:16]}`, "
        f"{record['wall_seconds']:.0f} s ({record['started']} → {record['finished']})",
    ]
    if details:
        lines += ["", DETAILS_START, details.strip(), DETAILS_END]
    lines += ["", "## Settings", "", "```json", json.dumps(record["settings"], indent=2), "```"]
    if record["inputs"]:
        lines += ["", "## Training data and inputs", "", "| input | path | SHA-256 |", "|---|---|---|"]
        lines += [f"| {k} | `{v['path']}` | `{v['sha256']}` |" for k, v in record["inputs"].items()]
    lines += ["", "## Evaluation", ""]
    if evaluations:
        lines += ["| evaluation | dataset | language | task | subtask | metric | value | 95% CI | n |"]
        lines += ["|---|---|---|---|---|---|---|---|---|"]
        for row in evaluations:
            interval = f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if row.get("ci_low") is not None else ""
            evaluation = row["evaluation"] + (f" ({row['style']})" if row.get("style") else "")
            lines.append(
                f"| {evaluation} | {row['dataset']} | {row['language']} | {row['task']} | "
                f"{row['subtask']} | {row['metric']} | {row['value']:.4f} | {interval} | {row['n']} |"
            )
    else:
        lines.append(
            "Not yet known when the model was written: `python -m pipeline.cards card "
            "MODEL_DIR --summary results/summary.parquet` adds the summary's rows."
        )
    lines += ["", f"Library versions and every input's checksum are in `{RUN_RECORD}`.", ""]
    return "\n".join(lines)
