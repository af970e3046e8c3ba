"""Materialise a grid model as a local checkpoint folder.

`tiny` builds the demo model; a local folder is linked file by file; anything else is
a Hugging Face hub id downloaded with `huggingface_hub.snapshot_download` (on a cluster;
`HF_HUB_OFFLINE=1` makes it use the local cache only).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.io import atomic_dir, strings_in, write_json
from pipeline.models.tiny import build_tiny_model, iter_texts
from pipeline.provenance import (
    CARD,
    RUN_RECORD,
    RunRecorder,
    lineage,
    read_run_record,
    write_provenance,
)

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


def link_local(source: Path, output: Path) -> None:
    if not (source / "config.json").exists():
        raise ValueError(f"model source {source}: no config.json (not a Hugging Face checkpoint folder)")
    with atomic_dir(output) as tmp:
        for path in source.iterdir():
            if path.is_file():
                os.symlink(path.resolve(), tmp / path.name)


def download(repo_id: str, output: Path) -> None:
    from huggingface_hub import snapshot_download

    with atomic_dir(output) as tmp:
        snapshot_download(repo_id, local_dir=tmp, allow_patterns=WEIGHT_PATTERNS)


def hub_revision(folder: Path) -> str | None:
    """The hub commit `snapshot_download` fetched into `folder` (from its local-dir download metadata)."""
    metadata = folder / ".cache" / "huggingface" / "download" / "config.json.metadata"
    if not metadata.is_file():
        return None
    return metadata.read_text(encoding="utf-8").splitlines()[0].strip() or None


def record_provenance(recorder: RunRecorder, source: str, family: str, variant: str, output: Path) -> None:
    """Run record and card of a fetched, linked or built model (an upstream card is kept)."""
    source_dir = Path(source)
    made_here = source_dir.is_dir() and read_run_record(source_dir) is not None
    if source == "tiny":
        recorder.base_model = {"id": f"tiny:{family}-{variant}", "revision": None, "hub": False}
    elif made_here:  # a CPT checkpoint (or any medadapt model) as an arm of its own
        recorder.method, recorder.parent = "checkpoint", source_dir
        recorder.inputs = {"checkpoint": source_dir}
        recorder.base_model = lineage(source_dir)
    elif source_dir.is_dir():
        recorder.base_model = {"id": str(source_dir.resolve()), "revision": None, "hub": False}
    else:
        recorder.base_model = {"id": source, "revision": hub_revision(output), "hub": True}
    record = recorder.record(output, family=family, variant=variant)
    if (output / CARD).exists() and not made_here:
        write_json(output / RUN_RECORD, record)
    else:
        write_provenance(output, record)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="'tiny', a local folder, or a hub id")
    parser.add_argument("--family", required=True)
    parser.add_argument("--variant", choices=["base", "instruct"], required=True)
    parser.add_argument("--text-dir", default="", help="text that trains a tiny model's tokenizer")
    parser.add_argument("--settings", required=True, help="JSON: {architecture: {...}, seed: int}")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    recorder = RunRecorder("base", json.loads(args.settings))
    if args.source == "tiny":
        settings = json.loads(args.settings)
        files = sorted(p for p in Path(args.text_dir).rglob("*") if p.is_file())
        if not files:
            raise ValueError(f"tiny model: no text found under --text-dir {args.text_dir!r}")
        recorder.inputs = {"tokenizer_text": args.text_dir}
        texts = itertools.chain(iter_texts(files), *[prompt_texts() for _ in range(PROMPT_TEXT_WEIGHT)])
        build_tiny_model(
            texts, args.family, args.variant, settings["architecture"], settings["seed"], args.output
        )
    elif Path(args.source).is_dir():
        link_local(Path(args.source), args.output)
    else:
        download(args.source, args.output)
    record_provenance(recorder, args.source, args.family, args.variant, args.output)


if __name__ == "__main__":
    main()
