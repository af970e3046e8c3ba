"""Tokenise a corpus into fixed-size training blocks with a source-stratified validation split.

Documents of one source are concatenated with the tokenizer's EOS token after each
document and cut into windows of `block_size` tokens. `stride` is the step between the
starts of consecutive windows, in tokens: the default (`block_size`) gives disjoint
blocks; a smaller stride gives overlapping ones. What is left at the end of a source
is dropped when shorter than `min_remainder` tokens, else padded with the pad token
(`min_remainder` defaults to `block_size`: no padding, every block is all text).
Validation blocks are drawn at random (seeded) within each source.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.corpus.settings import BlocksSettings
from pipeline.io import atomic_path, write_json

CORPUS_COLUMNS = ["source", "language", "licence_class", "text", "words"]
SCHEMA = pa.schema([("input_ids", pa.list_(pa.int32())), ("source", pa.string()), ("split", pa.string())])


@dataclass(frozen=True)
class TokenizerFiles:
    """A fast tokenizer with the ids of its EOS and pad tokens."""

    tokenizer: Any
    eos_id: int
    pad_id: int | None


def load_tokenizer(model_dir: Path) -> TokenizerFiles:
    """Load `tokenizer.json` with `tokenizers`; EOS and pad come from `tokenizer_config.json`."""
    from tokenizers import Tokenizer

    files = {name: model_dir / name for name in ("tokenizer.json", "tokenizer_config.json")}
    for path in files.values():
        if not path.exists():
            raise ValueError(f"{model_dir}: no {path.name} (a fast tokenizer is needed)")
    tokenizer = Tokenizer.from_file(str(files["tokenizer.json"]))
    config = json.loads(files["tokenizer_config.json"].read_text(encoding="utf-8"))

    def token_id(key: str) -> int | None:
        token = config.get(key)
        token = token.get("content") if isinstance(token, dict) else token
        if token is None:
            return None
        found = tokenizer.token_to_id(token)
        if found is None:
            raise ValueError(f"{files['tokenizer_config.json']}: {key} {token!r} is not in the vocabulary")
        return found

    eos_id = token_id("eos_token")
    if eos_id is None:
        raise ValueError(f"{files['tokenizer_config.json']}: no eos_token")
    return TokenizerFiles(tokenizer, eos_id, token_id("pad_token"))


class Chunker:
    """Cut per-source token streams into windows of `block_size` tokens, `stride` apart."""

    def __init__(self, block_size: int, stride: int, min_remainder: int, pad_id: int | None) -> None:
        if block_size < 1 or not 1 <= stride <= block_size:
            raise ValueError(
                f"need block_size >= 1 and 1 <= stride <= block_size, got {block_size}, {stride}"
            )
        if min_remainder < 1:
            raise ValueError(f"min_remainder must be >= 1, got {min_remainder}")
        self.block_size = block_size
        self.stride = stride
        self.min_remainder = min_remainder
        self.pad_id = pad_id
        self.pending: dict[str, np.ndarray] = {}
        self.emitted: Counter[str] = Counter()
        self.dropped_tokens = 0
        self.padding_tokens = 0

    def add(self, source: str, tokens: np.ndarray) -> np.ndarray:
        """Append tokens to a source's stream; return the complete blocks, shape (n, block_size)."""
        stream = np.concatenate([self.pending.get(source, np.empty(0, np.int32)), tokens])
        if len(stream) < self.block_size:
            self.pending[source] = stream
            return np.empty((0, self.block_size), np.int32)
        n = (len(stream) - self.block_size) // self.stride + 1
        blocks = np.lib.stride_tricks.sliding_window_view(stream, self.block_size)[:: self.stride][:n].copy()
        self.pending[source] = stream[n * self.stride :]
        self.emitted[source] += n
        return blocks

    def finish(self, source: str) -> np.ndarray:
        """The padded last window of a source if long enough, else nothing; shape (0 or 1, block_size)."""
        rest = self.pending.pop(source, np.empty(0, np.int32))
        new = len(rest) - (self.block_size - self.stride if self.emitted[source] else 0)
        if new <= 0:
            return np.empty((0, self.block_size), np.int32)
        if len(rest) < self.min_remainder:
            self.dropped_tokens += new
            return np.empty((0, self.block_size), np.int32)
        if self.pad_id is None:
            raise ValueError("padding a remainder needs a pad token, and the tokenizer has none")
        self.padding_tokens += self.block_size - len(rest)
        self.emitted[source] += 1
        padded = np.full((1, self.block_size), self.pad_id, np.int32)
        padded[0, : len(rest)] = rest
        return padded


def _corpus_batches(corpus: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    pf = pq.ParquetFile(corpus)
    missing = set(CORPUS_COLUMNS) - set(pf.schema_arrow.names)
    if missing:
        raise ValueError(f"{corpus}: not a built corpus (missing columns {sorted(missing)})")
    yield from pf.iter_batches(batch_size=batch_size, columns=CORPUS_COLUMNS)


def _blocks_table(blocks: np.ndarray, source: str) -> pa.Table:
    n, size = blocks.shape
    offsets = pa.array(np.arange(0, (n + 1) * size, size, dtype=np.int32))
    ids = pa.ListArray.from_arrays(offsets, pa.array(blocks.reshape(-1), pa.int32()))
    return pa.table({"input_ids": ids, "source": pa.array([source] * n, pa.string())})


def validation_masks(blocks_per_source: Counter[str], fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Per source, a boolean mask over its blocks marking round(fraction × n) validation blocks.

    A source with at least two blocks gets at least one validation and one training block
    when `fraction` > 0. Each source's draw depends only on the seed and its name.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {fraction}")
    masks = {}
    for source, n in blocks_per_source.items():
        k = round(fraction * n)
        if fraction > 0 and n >= 2:
            k = min(max(k, 1), n - 1)
        rng = np.random.default_rng([seed, zlib.crc32(source.encode("utf-8"))])
        mask = np.zeros(n, dtype=bool)
        mask[rng.choice(n, size=k, replace=False)] = True
        masks[source] = mask
    return masks


def make_blocks(
    corpus: Path,
    model_dir: Path,
    settings: BlocksSettings,
    output: Path,
    tokenizer_name: str | None = None,
) -> dict[str, Any]:
    """Write the blocks parquet (input_ids, source, split); return the statistics, which name the
    tokenizer `tokenizer_name` (default: the model folder's name)."""
    tok = load_tokenizer(model_dir)
    block_size = settings.block_size
    stride = settings.stride or block_size
    chunker = Chunker(block_size, stride, settings.min_remainder or block_size, tok.pad_id)
    table: dict[tuple[str, str, str], Counter[str]] = {}
    fd, scratch_name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".pass1", dir=output.parent)
    os.close(fd)
    scratch = Path(scratch_name)
    try:
        with pq.ParquetWriter(scratch, SCHEMA.remove(2)) as writer:
            for batch in _corpus_batches(corpus, settings.batch_size):
                columns = {c: batch.column(c).to_pylist() for c in CORPUS_COLUMNS}
                encodings = tok.tokenizer.encode_batch_fast(columns["text"], add_special_tokens=False)
                by_source: dict[str, list[np.ndarray]] = {}
                for i, enc in enumerate(encodings):
                    key = (columns["source"][i], columns["language"][i], columns["licence_class"][i])
                    counts = table.setdefault(key, Counter())
                    counts["documents"] += 1
                    counts["words"] += columns["words"][i]
                    counts["tokens"] += len(enc.ids)
                    by_source.setdefault(key[0], []).append(np.array([*enc.ids, tok.eos_id], np.int32))
                for source, arrays in by_source.items():
                    blocks = chunker.add(source, np.concatenate(arrays))
                    if len(blocks):
                        writer.write_table(_blocks_table(blocks, source))
            for source in list(chunker.pending):
                last = chunker.finish(source)
                if len(last):
                    writer.write_table(_blocks_table(last, source))
        masks = validation_masks(chunker.emitted, settings.validation_fraction, settings.seed)
        seen: Counter[str] = Counter()
        splits: Counter[str] = Counter()
        with atomic_path(output) as tmp, pq.ParquetWriter(tmp, SCHEMA) as writer:
            for batch in pq.ParquetFile(scratch).iter_batches(batch_size=256):
                split = []
                for source in batch.column("source").to_pylist():
                    split.append("validation" if masks[source][seen[source]] else "train")
                    seen[source] += 1
                splits.update(split)
                writer.write_batch(batch.append_column("split", pa.array(split, pa.string())))
    finally:
        scratch.unlink(missing_ok=True)
    stats = _stats(table, chunker, splits, tokenizer_name or model_dir.name, corpus)
    # The statistics have always listed the tokenizer's name among the settings.
    return {**stats, "settings": {**settings.to_dict(), "tokenizer_name": tokenizer_name}}


def _stats(
    table: dict[tuple[str, str, str], Counter[str]],
    chunker: Chunker,
    splits: Counter[str],
    tokenizer: str,
    corpus: Path,
) -> dict[str, Any]:
    rows = [
        {"source": s, "language": lang, "licence_class": c, **n} for (s, lang, c), n in sorted(table.items())
    ]
    documents = sum(r["documents"] for r in rows)
    words = sum(r["words"] for r in rows)
    tokens = sum(r["tokens"] for r in rows)
    blocks = sum(splits.values())
    return {
        "corpus": corpus.stem,
        "tokenizer": tokenizer,
        "block_size": chunker.block_size,
        "stride": chunker.stride,
        "documents": documents,
        "words": words,
        "tokens": tokens,
        "separator_tokens": documents,
        "tokens_per_word": tokens / words if words else 0.0,
        "blocks": {"total": blocks, "train": splits["train"], "validation": splits["validation"]},
        "blocks_per_source": dict(sorted(chunker.emitted.items())),
        "dropped_tokens": chunker.dropped_tokens,
        "padding_tokens": chunker.padding_tokens,
        "padding_share": chunker.padding_tokens / (blocks * chunker.block_size) if blocks else 0.0,
        "table": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True, help="built corpus (.parquet)")
    parser.add_argument("--tokenizer", type=Path, required=True, help="model folder with tokenizer.json")
    parser.add_argument(
        "--tokenizer-name", help="the tokenizer's name in the statistics (default: the model folder's name)"
    )
    parser.add_argument("--settings", default="{}", help="JSON of pipeline.corpus.settings.BlocksSettings")
    parser.add_argument("--output", type=Path, required=True, help="blocks (.parquet)")
    parser.add_argument("--stats", type=Path, required=True, help="statistics (.json)")
    args = parser.parse_args(argv)
    settings = BlocksSettings.from_json(args.settings)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    stats = make_blocks(args.corpus, args.tokenizer, settings, args.output, args.tokenizer_name)
    write_json(args.stats, stats)


if __name__ == "__main__":
    main()
