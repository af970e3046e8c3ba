"""Content-addressed completion cache keyed by (model fingerprint, prompt, decoding)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from pipeline.evaluate.backends import Completion, Decoding

MODEL_FILES = ("*.safetensors", "*.bin", "*.json", "*.model", "*.txt", "*.jinja")


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            h.update(chunk)
    return h.hexdigest()


def model_fingerprint(model_dir: str | Path) -> str:
    """SHA-256 over the names and contents of a model's weight, config and tokenizer files."""
    root = Path(model_dir)
    files = sorted({p for pattern in MODEL_FILES for p in root.rglob(pattern) if p.is_file()})
    h = hashlib.sha256()
    for path in files:
        h.update(str(path.relative_to(root)).encode())
        h.update(_file_sha(path).encode())
    return h.hexdigest()


class CompletionCache:
    """An SQLite table of completions; safe for concurrent jobs on one file system."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=120)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS completions (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @staticmethod
    def key(fingerprint: str, prompt_ids: list[int], decoding: Decoding) -> str:
        payload = json.dumps([fingerprint, prompt_ids, decoding.to_dict()], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        found: dict[str, Completion] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT key, value FROM completions WHERE key IN ({marks})", chunk)
            for key, value in rows:
                found[key] = Completion(**json.loads(value))
        return found

    def put_many(self, items: dict[str, Completion]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO completions VALUES (?, ?)",
                [(k, json.dumps(c.__dict__)) for k, c in items.items()],
            )

    def close(self) -> None:
        self.db.close()
