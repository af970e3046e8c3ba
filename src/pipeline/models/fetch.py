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

from pipeline.io import atomic_dir, strings_in
from pipeline.models.tiny import build_tiny_model, iter_texts

WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="'tiny', a local folder, or a hub id")
    parser.add_argument("--family", required=True)
    parser.add_argument("--variant", choices=["base", "instruct"], required=True)
    parser.add_argument("--text-dir", default="", help="text that trains a tiny model's tokenizer")
    parser.add_argument("--settings", required=True, help="JSON: {architecture: {...}, seed: int}")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.source == "tiny":
        settings = json.loads(args.settings)
        files = sorted(p for p in Path(args.text_dir).rglob("*") if p.is_file())
        if not files:
            raise ValueError(f"tiny model: no text found under --text-dir {args.text_dir!r}")
        texts = itertools.chain(iter_texts(files), *[prompt_texts() for _ in range(PROMPT_TEXT_WEIGHT)])
        build_tiny_model(
            texts, args.family, args.variant, settings["architecture"], settings["seed"], args.output
        )
    elif Path(args.source).is_dir():
        link_local(Path(args.source), args.output)
    else:
        download(args.source, args.output)


if __name__ == "__main__":
    main()
