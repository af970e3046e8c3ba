"""BRAT standoff (`<doc>.txt` + `<doc>.ann`): entities, and relations for RE.

Used for MEDDOCAN, CANTEMIST, n2c2 2018 track 2 and the demo sets. Offsets are checked
against the `.txt`; a discontinuous entity (`start end;start end`) becomes the span that
covers its fragments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import (
    BOM,
    Document,
    nonempty,
    read_lines,
    read_text,
    require,
    span,
    split_dirs,
    where,
)

DEFAULT_SPLITS = {"train": "train", "dev": "dev", "test": "test"}


def parse_ann(ann_path: Path, text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Entities (with their BRAT ids under "id") and relations of one `.ann` file."""
    from bioc.brat.decoder import loads_brat_entity, loads_brat_relation

    entities: dict[str, dict[str, Any]] = {}
    relations = []
    lines = read_lines(ann_path)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line[0] in "#AMN*E":  # notes, attributes, normalisations, equivalences, events
            continue
        try:
            if line[0] == "T":
                ent = loads_brat_entity(line)
                if ent.id in entities:
                    raise ValueError(f"entity id {ent.id} is defined twice")
                start, end = ent.total_span
                if not 0 <= start < end <= len(text):
                    raise ValueError(f"offsets {start}-{end} outside the text (length {len(text)})")
                if len(ent.locations) == 1 and text[start:end] != ent.text:
                    raise ValueError(f"text {ent.text!r} differs from the .txt at {start}-{end}")
                entities[ent.id] = {"id": ent.id, **span(text, start, end, ent.type)}
            elif line[0] == "R":
                rel = loads_brat_relation(line)
                head, tail = (rel.arguments.get(k) for k in ("Arg1", "Arg2"))
                if head not in entities or tail not in entities:
                    raise ValueError(f"relation arguments {head!r}/{tail!r} are not entities defined above")
                relations.append({"head": head, "relation": rel.type, "tail": tail})
            else:
                raise ValueError(f"unknown annotation kind {line.split()[0]!r}")
        except (AssertionError, ValueError, IndexError) as err:
            raise ValueError(f"{where(ann_path, lineno)}: bad BRAT line {line!r}: {err}") from err
    return list(entities.values()), relations


def read_document(txt_path: Path, language: str, split: str) -> Document:
    text = read_text(txt_path, keep_bom=True)  # BRAT offsets count a byte-order mark as a character
    ann_path = txt_path.with_suffix(".ann")
    if not ann_path.exists():
        raise ValueError(f"{txt_path}: no annotation file {ann_path.name} beside it")
    entities, relations = parse_ann(ann_path, text)
    if text.startswith(BOM):
        text, shift = text[1:], 1
        entities = [{**e, "start": max(e["start"] - shift, 0), "end": e["end"] - shift} for e in entities]
    by_id = {e["id"]: {k: v for k, v in e.items() if k != "id"} for e in entities}
    gold = {
        "entities": sorted(by_id.values(), key=lambda s: (s["start"], s["end"], s["label"])),
        "relations": [
            {"head": by_id[r["head"]], "relation": r["relation"], "tail": by_id[r["tail"]]} for r in relations
        ],
    }
    return Document(txt_path.stem, language, split, text, gold, {"source": str(txt_path)})


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """Every `.txt`/`.ann` pair in each split folder (`options.splits`: split → folder pattern)."""
    docs = []
    for split, folder in require(split_dirs(root, language, options, DEFAULT_SPLITS), root, language):
        paths = sorted(folder.glob("*.txt"))
        nonempty(paths, folder, "documents (*.txt)")
        docs.extend(read_document(p, language, split) for p in paths)
    return docs
