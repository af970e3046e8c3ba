"""A Hugging Face dataset repository at a pinned revision, downloaded with `huggingface_hub`, and
data files rewritten as JSON lines in a reader's columns with `datasets` (`export:`).

Offline (HF_HUB_OFFLINE=1) the download is served from the hub cache, so a pre-filled cache (or a
test's local stand-in) fetches without network.
"""

from __future__ import annotations

import fnmatch
import shutil
import tempfile
from pathlib import Path
from typing import Any

FORMATS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
SKIPPED = (".gitattributes",)


def fetch_hf(spec: dict[str, Any], folder: Path) -> None:
    """Copy the files of `spec["hf"]` at `spec["revision"]` (matching `files`) into `folder`."""
    from huggingface_hub import snapshot_download

    patterns = spec.get("files")
    snapshot = Path(
        snapshot_download(
            repo_id=spec["hf"], repo_type="dataset", revision=spec["revision"], allow_patterns=patterns
        )
    )
    copied = 0
    for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        relative = path.relative_to(snapshot).as_posix()
        if relative in SKIPPED or (patterns and not any(fnmatch.fnmatch(relative, pat) for pat in patterns)):
            continue
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path.resolve(), target)  # the cache holds symlinks into its blob store
        copied += 1
    if not copied:
        raise FileNotFoundError(
            f"hf source {spec['hf']} @ {spec['revision']}: no file matches {patterns or 'any pattern'}"
        )


def export(folder: Path, exports: list[dict[str, Any]]) -> None:
    """Rewrite data files of `folder` as JSON lines with the columns a reader expects."""
    from datasets import load_dataset

    for item in exports:
        files = sorted(str(p) for p in folder.glob(item["from"]) if p.is_file())
        if not files:
            raise FileNotFoundError(f"export: no data file matches {item['from']!r} in the fetched source")
        fmt = item.get("format") or FORMATS.get(Path(files[0]).suffix)
        if fmt is None:
            raise ValueError(f"export {item['from']!r}: unknown format; set `format` (json, csv or parquet)")
        target = folder / item["to"]
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as cache:  # no `datasets` cache left beside the data
            rows = load_dataset(fmt, data_files=files, split="train", cache_dir=cache)
            columns = item.get("columns")
            if columns:
                absent = sorted(set(columns) - set(rows.column_names))
                if absent:
                    raise ValueError(
                        f"export {item['from']!r}: column(s) {absent} not in the data "
                        f"(columns: {rows.column_names})"
                    )
                rows = rows.select_columns(list(columns)).rename_columns(columns)
            rows.to_json(str(target), lines=True, force_ascii=False)
