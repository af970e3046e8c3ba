"""E3C layer-1 gold annotation: UIMA CAS XMI (WebAnno) plus the official train/test split file.

Entities are the `custom:*` span types (CLINENTITY, BODYPART, RML, EVENT by default);
exam → result relations follow `RML@PERTAINSTO` → `RMLPERTAINSTOLink@target` → `EVENT`
and are emitted as `{head: EVENT, relation: "HAS_RESULT", tail: RML}`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.tasks.readers.base import LANGUAGE_NAMES, Document, layout, nonempty, read_lines, span, where

CUSTOM = "http:///webanno/custom.ecore"
CAS = "http:///uima/cas.ecore"
XMI_ID = "{http://www.omg.org/XMI}id"
DEFAULTS = {
    "documents": "data_annotation/{Language}/layer1",
    "split_file": "documentation/train_test_split.txt",
    "entity_types": ["CLINENTITY", "BODYPART", "RML", "EVENT"],
}
RELATION = "HAS_RESULT"


def train_ids(split_file: Path, language: str) -> set[str]:
    """Training document ids of one language in the official split file (others are test)."""
    name = LANGUAGE_NAMES[language].upper()
    lines = read_lines(split_file)
    for i, line in enumerate(lines):
        if line.strip() == name:
            following = next((x for x in lines[i + 1 :] if x.strip()), "")
            return set(re.findall(r"'([A-Z]{2}\d+)'", following))
    raise ValueError(f"{split_file}: no section {name!r} for language {language!r}")


def parse_xmi(path: Path, entity_types: list[str]) -> tuple[str, dict[str, Any]]:
    """Text and gold (entities, relations) of one XMI document."""
    from lxml import etree

    try:
        root = etree.parse(str(path)).getroot()
    except etree.XMLSyntaxError as err:
        raise ValueError(f"{where(path, err.lineno)}: broken XML ({err.msg})") from err
    sofa = root.find(f"{{{CAS}}}Sofa")
    if sofa is None or sofa.get("sofaString") is None:
        raise ValueError(f"{path}: no cas:Sofa with a sofaString")
    text = sofa.get("sofaString")

    def span_of(el: Any) -> dict[str, Any]:
        try:
            begin, end = int(el.get("begin")), int(el.get("end"))
        except (TypeError, ValueError):
            raise ValueError(f"{where(path, el.sourceline)}: bad begin/end on {el.get(XMI_ID)}") from None
        if not 0 <= begin <= end <= len(text):
            raise ValueError(f"{where(path, el.sourceline)}: offsets {begin}-{end} outside the text")
        return span(text, begin, end, etree.QName(el).localname)

    # ids are looked up per type: real files reuse an xmi:id across types (e.g. EN100129)
    links = {el.get(XMI_ID): el for el in root.iterfind(f"{{{CUSTOM}}}RMLPERTAINSTOLink")}
    events = {el.get(XMI_ID): el for el in root.iterfind(f"{{{CUSTOM}}}EVENT")}
    entities = [
        span_of(el) for el in root.iterfind(f"{{{CUSTOM}}}*") if etree.QName(el).localname in entity_types
    ]
    relations = []
    for rml in root.iterfind(f"{{{CUSTOM}}}RML"):
        for link_id in (rml.get("PERTAINSTO") or "").split():
            link = links.get(link_id)
            event = events.get(link.get("target")) if link is not None else None
            if event is None:
                raise ValueError(
                    f"{where(path, rml.sourceline)}: PERTAINSTO link {link_id} has no target element"
                )
            relations.append({"head": span_of(event), "relation": RELATION, "tail": span_of(rml)})
    entities = [e for e in entities if e["end"] > e["start"]]
    entities.sort(key=lambda s: (s["start"], s["end"], s["label"]))
    return text, {"entities": entities, "relations": relations}


def read(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """Every layer-1 document of `language`, split by the official split file."""
    opts = {**DEFAULTS, **options}
    folder = root / layout(opts["documents"], language)
    if not folder.is_dir():
        raise FileNotFoundError(f"no layer-1 folder {folder}")
    train = train_ids(root / opts["split_file"], language)
    docs = []
    paths = sorted(folder.glob("*.xml"))
    nonempty(paths, folder, "documents (*.xml)")
    for path in paths:
        text, gold = parse_xmi(path, opts["entity_types"])
        split = "train" if path.stem in train else "test"
        docs.append(Document(path.stem, language, split, text, gold, {"source": str(path)}))
    return docs
