"""Assemble a named corpus from cleaned sources.

In order: language and licence filtering, exact de-duplication (hash of normalised text),
near-duplicate removal (MinHash LSH over word shingles) and decontamination against the
test examples of the evaluation tasks. The first occurrence of a duplicate is kept, in
input order. The report carries PARCOMED Table 1 statistics per source, language and
licence class.
"""

from __future__ import annotations

import argparse
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.corpus.clean import SCHEMA as CLEAN_SCHEMA
from pipeline.corpus.decontaminate import Decontaminator, read_test_texts
from pipeline.corpus.dedup import NearDuplicateIndex, Signer, exact_key
from pipeline.corpus.licences import CLASSES, COMMERCIAL, LicenceTable
from pipeline.corpus.parallel import bounded_map
from pipeline.corpus.settings import BuildSettings
from pipeline.io import atomic_path, write_json

SCHEMA = CLEAN_SCHEMA.append(pa.field("licence_class", pa.string())).append(
    pa.field("contaminated", pa.bool_())
)


def read_batches(inputs: list[Path], batch_size: int) -> Iterator[pa.RecordBatch]:
    """Stream cleaned-source parquet files; a file without the cleaned columns raises ValueError."""
    for path in inputs:
        pf = pq.ParquetFile(path)
        missing = set(CLEAN_SCHEMA.names) - set(pf.schema_arrow.names)
        if missing:
            raise ValueError(f"{path}: not a cleaned source (missing columns {sorted(missing)})")
        yield from pf.iter_batches(batch_size=batch_size, columns=CLEAN_SCHEMA.names)


_worker: dict[str, Any] = {}


def _init_worker(signer: Signer | None, decontaminator: Decontaminator) -> None:
    _worker["signer"] = signer
    _worker["decontaminator"] = decontaminator


def _analyse(texts: list[str]) -> tuple[list[bytes], np.ndarray | None, list[bool]]:
    """Exact keys, MinHash signatures (None when near dedup is off) and contamination of texts."""
    signer: Signer | None = _worker["signer"]
    signatures = np.stack([signer.signature(t) for t in texts]) if signer and texts else None
    contaminated = [_worker["decontaminator"].is_contaminated(t) for t in texts]
    return [exact_key(t) for t in texts], signatures, contaminated


class Builder:
    """Filter, de-duplicate and decontaminate batches of cleaned documents, counting as it goes."""

    def __init__(self, settings: BuildSettings) -> None:
        self.settings = settings
        self.licences = LicenceTable(settings.licence_classes)
        dedup = settings.dedup
        self.seen: dict[bytes, tuple[str, str]] = {}
        self.near = NearDuplicateIndex(dedup.threshold, dedup.num_perm, settings.seed)
        self.removed: Counter[str] = Counter()
        self.documents_in = 0
        self.flagged = 0
        self.duplicates: list[dict[str, str]] = []
        self.contaminated: list[dict[str, str]] = []
        self.table: dict[tuple[str, str, str], Counter[str]] = {}

    def select(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, list[str]]:
        """Drop documents outside the languages and licence subset; return the rest and their classes."""
        self.documents_in += batch.num_rows
        languages = self.settings.languages
        classes = [self.licences.classify(x) for x in batch.column("licence").to_pylist()]
        language_ok = [languages is None or x in languages for x in batch.column("language").to_pylist()]
        licence_ok = [self.settings.licence_subset == "all" or c == COMMERCIAL for c in classes]
        keep = [a and b for a, b in zip(language_ok, licence_ok, strict=True)]
        self.removed["language"] += language_ok.count(False)
        self.removed["licence"] += sum(1 for a, b in zip(language_ok, licence_ok, strict=True) if a and not b)
        return batch.filter(pa.array(keep, pa.bool_())), [c for c, k in zip(classes, keep, strict=True) if k]

    def decide(
        self,
        batch: pa.RecordBatch,
        classes: list[str],
        keys: list[bytes],
        signatures: np.ndarray | None,
        contaminated: list[bool],
    ) -> pa.Table | None:
        """Keep each document unless it duplicates an earlier one or (action 'drop') is contaminated."""
        names = list(zip(batch.column("source").to_pylist(), batch.column("id").to_pylist(), strict=True))
        drop_contaminated = self.settings.decontamination.action == "drop"
        keep = []
        for i, name in enumerate(names):
            if contaminated[i]:
                self._note(self.contaminated, {"source": name[0], "id": name[1]})
            if contaminated[i] and drop_contaminated:
                self.removed["contaminated"] += 1
                keep.append(False)
                continue
            original, kind = self.seen.get(keys[i]), "exact"
            if original is None and signatures is not None:
                original, kind = self.near.add(name, signatures[i]), "near"
            if original is not None:
                self.removed[f"{kind}_duplicates"] += 1
                entry = {"source": name[0], "id": name[1], "kind": kind, "of_source": original[0]}
                self._note(self.duplicates, {**entry, "of_id": original[1]})
                keep.append(False)
                continue
            if self.settings.dedup.exact:
                self.seen[keys[i]] = name
            self.flagged += contaminated[i]
            keep.append(True)
        if not any(keep):
            return None
        kept = pa.Table.from_batches([batch]).filter(pa.array(keep, pa.bool_()))
        kept_classes = [c for c, k in zip(classes, keep, strict=True) if k]
        kept_flags = [f for f, k in zip(contaminated, keep, strict=True) if k]
        kept = kept.append_column("licence_class", pa.array(kept_classes, pa.string()))
        kept = kept.append_column("contaminated", pa.array(kept_flags, pa.bool_()))
        self._count(kept)
        return kept

    def _note(self, listing: list[dict[str, str]], entry: dict[str, str]) -> None:
        if len(listing) < self.settings.report_limit:
            listing.append(entry)

    def _count(self, kept: pa.Table) -> None:
        kept = kept.append_column("characters", pc.utf8_length(kept.column("text")))
        grouped = kept.group_by(["source", "language", "licence_class"]).aggregate(
            [("id", "count"), ("words", "sum"), ("characters", "sum")]
        )
        for row in grouped.to_pylist():
            counts = self.table.setdefault((row["source"], row["language"], row["licence_class"]), Counter())
            counts["documents"] += row["id_count"]
            counts["words"] += row["words_sum"]
            counts["characters"] += row["characters_sum"]

    def report(self) -> dict[str, Any]:
        rows = [
            {"source": s, "language": lang, "licence_class": c, **counts}
            for (s, lang, c), counts in sorted(self.table.items())
        ]
        totals = Counter()
        by_class: dict[str, Counter[str]] = {c: Counter() for c in CLASSES}
        for row in rows:
            for key in ("documents", "words", "characters"):
                totals[key] += row[key]
                by_class[row["licence_class"]][key] += row[key]
        return {
            "documents_in": self.documents_in,
            "removed": {
                k: self.removed[k]
                for k in ("language", "licence", "contaminated", "exact_duplicates", "near_duplicates")
            },
            "flagged_contaminated": self.flagged,
            "documents_out": totals["documents"],
            "words_out": totals["words"],
            "characters_out": totals["characters"],
            "licence_classes": {
                c: {k: by_class[c][k] for k in ("documents", "words", "characters")} for c in CLASSES
            },
            "table": rows,
            "duplicates": self.duplicates,
            "contaminated": self.contaminated,
        }


def build_corpus(
    inputs: list[Path], tasks: list[Path], settings: BuildSettings, output: Path
) -> dict[str, Any]:
    """Write the corpus parquet (cleaned columns + licence_class, contaminated); return the report."""
    dedup = settings.dedup
    signer = Signer(dedup.num_perm, dedup.shingle, settings.seed) if dedup.near else None
    decontaminator = Decontaminator(read_test_texts(tasks), settings.decontamination.ngram)
    builder = Builder(settings)
    selected: deque[tuple[pa.RecordBatch, list[str]]] = deque()

    def texts() -> Iterator[list[str]]:
        for batch in read_batches(inputs, settings.batch_size):
            selected.append(builder.select(batch))
            yield selected[-1][0].column("text").to_pylist()

    analysed = bounded_map(_analyse, texts(), settings.workers, _init_worker, (signer, decontaminator))
    with atomic_path(output) as tmp, pq.ParquetWriter(tmp, SCHEMA) as writer:
        for keys, signatures, contaminated in analysed:
            batch, classes = selected.popleft()
            kept = builder.decide(batch, classes, keys, signatures, contaminated)
            if kept is not None:
                writer.write_table(kept)
    return {
        "corpus": output.stem,
        "inputs": [str(p) for p in inputs],
        "tasks": [str(t) for t in tasks],
        "test_ngrams": len(decontaminator.test_ngrams),
        "settings": settings.to_dict(),
        **builder.report(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inputs", type=Path, nargs="+", required=True, help="cleaned sources (.parquet)")
    parser.add_argument(
        "--tasks", type=Path, nargs="*", default=[], help="task files whose test split to avoid"
    )
    parser.add_argument("--settings", default="{}", help="JSON of pipeline.corpus.settings.BuildSettings")
    parser.add_argument("--output", type=Path, required=True, help="corpus (.parquet)")
    parser.add_argument("--report", type=Path, required=True, help="report (.json)")
    args = parser.parse_args(argv)
    settings = BuildSettings.from_json(args.settings)
    write_json(args.report, build_corpus(args.inputs, args.tasks, settings, args.output))


if __name__ == "__main__":
    main()
