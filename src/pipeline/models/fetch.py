"""Materialise a grid model as a local checkpoint folder (the `base_model` and `checkpoint_model` jobs).

`tiny` builds the demo model; a local folder is linked file by file; a hub repository is downloaded
at its revision with `huggingface_hub.snapshot_download` (`HF_HUB_OFFLINE=1` uses the local cache
only); a GGUF file — local, in a hub repository, or shipped in a PyPI wheel — is dequantised once
and saved as safetensors. Every folder gets `medadapt_model.json`: family, variant (which decides
the prompt format, see `pipeline.models.chat`) and where the weights came from.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.io import atomic_dir, file_sha256, strings_in
from pipeline.models.sources import ModelSource, parse_source, requirement
from pipeline.progress import setup_job_logging
from pipeline.provenance import CARD, RUN_RECORD, RunRecorder, lineage, read_run_record, write_provenance

log = logging.getLogger(__name__)

MODEL_RECORD = "medadapt_model.json"
WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken", "README.md"]

# How often the prompt wording is repeated in a tiny tokenizer's training text, so that it gets
# whole-word tokens like the data does (short prompts keep the demo's training and decoding cheap).
PROMPT_TEXT_WEIGHT = 20


def prompt_texts() -> Iterator[str]:
    """Every string of the prompt templates (instructions, rules, descriptions) in every language."""
    from pipeline.tasks import templates

    for strings in templates.STRINGS.values():
        yield from strings_in(dataclasses.asdict(strings))
    yield from strings_in([templates.ENTITY_DESCRIPTIONS, templates.RELATION_DESCRIPTIONS])


def link_folder(source: Path, tmp: Path) -> None:
    """Symlink a checkpoint folder's files, but not the records and card this job writes anew
    (a publisher's card stays; a medadapt folder's own card is rewritten)."""
    if not (source / "config.json").exists():
        raise ValueError(f"model source {source}: no config.json (not a Hugging Face checkpoint folder)")
    rewritten = {MODEL_RECORD, RUN_RECORD} | ({CARD} if (source / RUN_RECORD).exists() else set())
    for path in source.iterdir():
        if path.is_file() and path.name not in rewritten:
            os.symlink(path.resolve(), tmp / path.name)


def convert_gguf(gguf: Path, tmp: Path) -> None:
    """Dequantise a GGUF file into a safetensors checkpoint with its tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("dequantising %s", gguf)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    del config.quantization_config  # the saved weights are plain float32, not GGUF blocks
    # A model loaded from GGUF refuses save_pretrained: copy its weights into a fresh one.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)


def package_file(source: ModelSource, downloads: Path) -> Path:
    """The GGUF file inside a pinned PyPI distribution: installed, or from its downloaded wheel."""
    from importlib.metadata import PackageNotFoundError, distribution

    name, version = requirement(source)
    member = str(source.gguf_file)
    try:
        dist = distribution(name)
        if dist.version == version and any(str(f) == member for f in dist.files or []):
            return Path(str(dist.locate_file(member)))
        log.info("installed %s is %s, not %s: downloading the wheel", name, dist.version, version)
    except PackageNotFoundError:
        log.info("%s is not installed: downloading the wheel", name)
    target = downloads / f"{name}-{version}" / member
    if target.is_file():
        return target
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=downloads) as tmp:  # same file system: the rename is atomic
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
             "--dest", tmp, f"{name}=={version}"],
            check=True,
        )  # fmt: skip
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"pip download {name}=={version}: expected one wheel, got {wheels}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            if member not in wheel.namelist():
                raise ValueError(f"model source {source.location}: the wheel has no file {member!r}")
            extracted = wheel.extract(member, tmp)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(extracted, target)
    return target


def hub_snapshot(source: ModelSource) -> Path:
    """The local snapshot folder of a hub source (downloaded, or the cache alone when offline)."""
    from huggingface_hub import snapshot_download

    patterns = [source.gguf_file] if source.gguf_file else WEIGHT_PATTERNS
    return Path(snapshot_download(source.location, revision=source.revision, allow_patterns=patterns))


def materialise(source: ModelSource, tmp: Path, downloads: Path) -> dict[str, Any]:
    """Write a non-tiny source's checkpoint into `tmp`; returns what was resolved (revision, checksum)."""
    if source.kind == "local":
        link_folder(source.local_path, tmp)  # type: ignore[arg-type]
        return {"path": str(source.local_path)}
    resolved: dict[str, Any] = {}
    if source.kind == "hub":
        snapshot = hub_snapshot(source)
        resolved["revision"] = snapshot.name  # the cache names snapshots by commit
        if not source.gguf_file:
            link_folder(snapshot, tmp)
            return resolved
        gguf = snapshot / source.gguf_file
    elif source.kind == "package":
        gguf = package_file(source, downloads)
    else:
        gguf = source.local_path  # type: ignore[assignment]
    convert_gguf(gguf, tmp)
    return {**resolved, "gguf_sha256": file_sha256(gguf)}


def fetch(
    raw_source: str | dict[str, Any],
    family: str,
    variant: str,
    output: Path,
    settings: dict[str, Any],
    text_dir: Path | None = None,
    downloads: Path = Path("results/downloads"),
) -> None:
    """Build or fetch one model into `output` (atomically), with its model record, run record and card."""
    from pipeline.models.tiny import build_tiny_model, iter_texts

    source = parse_source(raw_source)
    recorder = RunRecorder("base", settings)
    if source.kind == "tiny":
        files = sorted(p for p in Path(text_dir or "").rglob("*") if p.is_file()) if text_dir else []
        if not files:
            raise ValueError(f"tiny model: no text found under --text-dir {text_dir!s}")
        texts = itertools.chain(iter_texts(files), *[prompt_texts() for _ in range(PROMPT_TEXT_WEIGHT)])
        build_tiny_model(texts, family, variant, settings["architecture"], settings["seed"], output)
        recorder.inputs = {"tokenizer_text": str(text_dir)}
        recorder.base_model = {"id": f"tiny:{family}-{variant}", "revision": None, "hub": False}
        write_provenance(output, recorder.record(output, family=family, variant=variant))
        return
    with atomic_dir(output) as tmp:
        resolved = materialise(source, tmp, downloads)
        record = {"family": family, "variant": variant, "source": source.describe(), "resolved": resolved}
        (tmp / MODEL_RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        made_here = source.kind == "local" and read_run_record(source.local_path) is not None
        if made_here:  # a CPT checkpoint (or any medadapt model) as an arm of its own
            recorder.method, recorder.parent = "checkpoint", source.local_path
            recorder.inputs = {"checkpoint": source.local_path}
            recorder.base_model = lineage(source.local_path)
        else:
            revision = resolved.get("revision") or resolved.get("gguf_sha256")
            recorder.base_model = {"id": source.location, "revision": revision, "hub": source.kind == "hub"}
        run_record = recorder.record(output, family=family, variant=variant)
        if (tmp / CARD).exists() and not made_here:  # the publisher's card stays
            (tmp / RUN_RECORD).write_text(json.dumps(run_record, indent=2) + "\n", encoding="utf-8")
        else:
            write_provenance(tmp, run_record)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", required=True, help="the model's `source` (a string, or JSON for a mapping)"
    )
    parser.add_argument("--family", required=True)
    parser.add_argument("--variant", choices=["base", "instruct"], required=True)
    parser.add_argument("--text-dir", type=Path, help="text that trains a tiny model's tokenizer")
    parser.add_argument("--settings", default="{}", help="JSON: {architecture: {...}, seed: int} (tiny)")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    setup_job_logging()
    raw = json.loads(args.source) if args.source.startswith("{") else args.source
    fetch(raw, args.family, args.variant, args.output, json.loads(args.settings), args.text_dir)


if __name__ == "__main__":
    main()
