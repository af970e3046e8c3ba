"""Content-addressed completion cache, safe for many jobs on a cluster's network file system.

A completion is keyed by the backend, the model's content (`model_fingerprint`), the prompt's token
ids and the decoding settings. Entries live in append-only JSONL shards, one per writing process,
under one folder per model fingerprint: no two processes ever write the same file, so the cache needs
no file locking (which SQLite relies on and NFS/Lustre do not provide). Every batch is flushed and
fsynced as it is produced, so a killed job keeps what it generated; a shard's unfinished last line is
ignored, and a shard corrupted elsewhere is named in the log and set aside (`*.corrupt`), never fatal.
A model's fingerprint is kept under `fingerprints/`, named by its files' stat identity, so the many
jobs evaluating one model folder read its weights once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from pipeline.evaluate.backends import Completion, Decoding
from pipeline.io import file_sha256, write_text

log = logging.getLogger(__name__)

MODEL_FILES = ("*.safetensors", "*.bin", "*.json", "*.model", "*.txt", "*.jinja")


def model_files(model_dir: str | Path) -> list[Path]:
    """A model's weight, config and tokenizer files, in name order."""
    return sorted({p for pattern in MODEL_FILES for p in Path(model_dir).rglob(pattern) if p.is_file()})


def model_fingerprint(model_dir: str | Path) -> str:
    """SHA-256 over the names and contents of a model's weight, config and tokenizer files."""
    root = Path(model_dir)
    h = hashlib.sha256()
    for path in model_files(root):
        h.update(str(path.relative_to(root)).encode())
        h.update(file_sha256(path).encode())
    return h.hexdigest()


def files_state(model_dir: str | Path) -> str:
    """SHA-256 over each model file's name and stat identity (device, inode, size, modification and
    change times in ns): a file rewritten, replaced, copied or touched gets a new state."""
    root = Path(model_dir)
    h = hashlib.sha256()
    for path in model_files(root):
        s = path.stat()
        name = path.relative_to(root).as_posix()
        h.update(repr((name, s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns)).encode())
    return h.hexdigest()


class CorruptShard(ValueError):
    pass


def read_shard(path: Path) -> Iterator[tuple[str, Completion]]:
    """The entries of one shard; a last line without its newline is a write still under way."""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    for lineno, line in enumerate(complete.splitlines(), 1):
        try:
            entry = json.loads(line)
            yield entry["key"], Completion(**entry["completion"])
        except (ValueError, KeyError, TypeError) as err:
            raise CorruptShard(f"{path}:{lineno}: not a cache entry ({err})") from None


class CompletionCache:
    """Completions under `root`, read from every shard, written to this process's own shard."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.shard_name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}.jsonl"

    @staticmethod
    def key(backend: str, fingerprint: str, prompt_ids: list[int], decoding: Decoding) -> str:
        payload = json.dumps([backend, fingerprint, prompt_ids, decoding.to_dict()], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def fingerprint(self, model_dir: str | Path) -> str:
        """`model_fingerprint`, kept under `fingerprints/` by the files' stat identity: the jobs that
        evaluate one unchanged model folder (one per dataset) hash its weights once, not each time
        (an 8B model: 16 GB read per job)."""
        memo = self.root / "fingerprints" / f"{files_state(model_dir)}.sha256"
        if memo.is_file() and re.fullmatch(r"[0-9a-f]{64}", known := memo.read_text().strip()):
            return known
        fingerprint = model_fingerprint(model_dir)
        write_text(memo, fingerprint + "\n")
        return fingerprint

    def _folder(self, fingerprint: str) -> Path:
        return self.root / fingerprint[:32]

    def load(self, fingerprint: str) -> dict[str, Completion]:
        """Every cached completion of one model."""
        found: dict[str, Completion] = {}
        folder = self._folder(fingerprint)
        for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
            try:
                found.update(read_shard(path))
            except CorruptShard as err:
                aside = path.with_suffix(".corrupt")
                log.warning(
                    "completion cache: %s; set aside as %s, its entries will be regenerated", err, aside
                )
                os.replace(path, aside)
        return found

    def put(self, fingerprint: str, items: dict[str, Completion]) -> None:
        """Append `items` to this process's shard, durably."""
        if not items:
            return
        folder = self._folder(fingerprint)
        folder.mkdir(parents=True, exist_ok=True)
        lines = "".join(
            json.dumps({"key": k, "completion": c.__dict__}, ensure_ascii=False) + "\n"
            for k, c in items.items()
        )
        with (folder / self.shard_name).open("a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())
