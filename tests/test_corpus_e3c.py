"""Acceptance: the whole corpus chain on the real E3C layer-3 documents, with planted problems."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from pipeline.corpus import stats as stats_table
from pipeline.corpus.blocks import make_blocks
from pipeline.corpus.build import build_corpus
from pipeline.corpus.clean import clean_source
from pipeline.corpus.licences import COMMERCIAL, RESEARCH_ONLY
from pipeline.corpus.settings import BlocksSettings, BuildSettings, CleanSettings
from pipeline.corpus.sources import Source
from pipeline.examples import Example
from pipeline.io import write_json, write_jsonl

pytestmark = pytest.mark.e2e  # cleans 1,200 real documents and builds a tiny model (~15-45 s)

LANGUAGES = {"en": "English", "it": "Italian", "es": "Spanish"}


@pytest.fixture(scope="module")
def e3c(shared_data, tmp_path_factory):
    """Clean the three E3C sources plus a planted one; build the full and commercial corpora."""
    tmp = tmp_path_factory.mktemp("e3c")
    layer3 = {
        lang: shared_data / "e3c" / "data_collection" / name / "layer3" for lang, name in LANGUAGES.items()
    }
    en = json.loads((layer3["en"] / "EN110028.json").read_text())["text"]
    en2 = json.loads((layer3["en"] / "EN110029.json").read_text())["text"]
    es = json.loads((layer3["es"] / sorted(p.name for p in layer3["es"].glob("*.json"))[5]).read_text())
    words = en2.split()
    near = [*words[:40], "additionally", *words[40:]]  # one inserted word
    planted = [
        {"id": "dup-exact", "text": "  " + en.upper() + "  ", "licence": "CC-BY-NC-4.0"},
        {"id": "dup-near", "text": " ".join(near), "licence": "CC BY 4.0"},
    ]
    write_jsonl(tmp / "planted" / "docs.jsonl", planted)
    passage = " ".join(es["text"].split()[20:60])
    task = Example("t1", "synthetic", "ner", "es", "demo", "test", passage, {"entities": []})
    write_jsonl(tmp / "tasks.jsonl", [task.to_record()])
    sources = [
        Source(f"e3c-{lang}", str(path), "e3c_json", lang, "case_report", None)
        for lang, path in layer3.items()
    ] + [Source("planted", str(tmp / "planted"), "jsonl", "en", "case_report", None)]
    clean_stats = {}
    for src in sources:
        clean_stats[src.name] = clean_source(src, CleanSettings(), tmp / f"{src.name}.parquet")
    inputs = [tmp / f"{src.name}.parquet" for src in sources]
    reports = {}
    for subset in ("all", COMMERCIAL):
        settings = BuildSettings(licence_subset=subset)
        reports[subset] = build_corpus(
            inputs, [tmp / "tasks.jsonl"], settings, tmp / f"corpus-{subset}.parquet"
        )
        write_json(tmp / f"report-{subset}.json", reports[subset])
    return tmp, clean_stats, reports, es["id"]


def test_cleaning_statistics(e3c):
    _, stats, _, _ = e3c
    for lang in LANGUAGES:
        s = stats[f"e3c-{lang}"]
        assert s["documents_in"] == 400
        removed = sum(r["characters"] for r in s["rules"].values())
        assert s["characters_in"] - s["characters_out"] == removed
        assert (
            s["documents_out"]
            == 400 - s["rules"]["min_words"]["documents"] - s["rules"]["min_alpha_ratio"]["documents"]
        )
    italian = stats["e3c-it"]
    assert italian["rules"]["min_words"]["documents"] > 50  # the short MIUR exam items
    assert italian["rules"]["charset"]["documents"] > 0  # mojibake such as 'ï¿½'
    assert stats["e3c-en"]["documents_out"] == 400


def test_duplicates_and_decontamination_found(e3c):
    _, _, reports, es_id = e3c
    full = reports["all"]
    found = {(d["id"], d["kind"]): (d["of_source"], d["of_id"]) for d in full["duplicates"]}
    assert found[("dup-exact", "exact")] == ("e3c-en", "EN110028")
    assert found[("dup-near", "near")] == ("e3c-en", "EN110029")
    assert {"source": "e3c-es", "id": es_id} in full["contaminated"]
    assert full["removed"]["contaminated"] == 1
    # E3C Italian itself holds exact and near duplicates: at least the planted ones are found
    assert full["removed"]["exact_duplicates"] >= 1 and full["removed"]["near_duplicates"] >= 1


def test_licence_subsets(e3c):
    tmp, _, reports, _ = e3c
    full, commercial = reports["all"], reports[COMMERCIAL]
    assert full["licence_classes"][RESEARCH_ONLY]["documents"] > 0  # the CC-BY-NC Italian documents
    assert commercial["licence_classes"][RESEARCH_ONLY]["documents"] == 0
    assert commercial["documents_out"] == full["licence_classes"][COMMERCIAL]["documents"]
    corpus = pq.read_table(tmp / f"corpus-{COMMERCIAL}.parquet")
    assert set(corpus.column("licence_class").to_pylist()) == {COMMERCIAL}
    assert "CC-BY-NC" not in set(corpus.column("licence").to_pylist())


def test_token_counts_and_table(e3c, tiny_model_factory):
    tmp, _, reports, _ = e3c
    model = tiny_model_factory("llama", "base")
    stats = make_blocks(
        tmp / "corpus-all.parquet", model, BlocksSettings(block_size=256), tmp / "blocks.parquet", "llama"
    )
    write_json(tmp / "blocks.json", stats)
    assert stats["documents"] == reports["all"]["documents_out"]
    assert {r["source"] for r in stats["table"]} == {"e3c-en", "e3c-it", "e3c-es"}
    assert all(r["tokens"] > r["words"] for r in stats["table"])
    assert stats["blocks"]["validation"] >= 3  # at least one per source
    blocks = pq.read_table(tmp / "blocks.parquet")
    assert {len(x) for x in blocks.column("input_ids").to_pylist()} == {256}
    out = tmp / "table.md"
    stats_table.main(
        [
            "--reports",
            str(tmp / "report-all.json"),
            "--blocks-stats",
            str(tmp / "blocks.json"),
            "--output",
            str(out),
        ]
    )
    lines = out.read_text().splitlines()
    assert lines[0].endswith("| tokens (llama) |")
    total = lines[-1].split(" | ")
    assert total[1] == "total" and total[-1].rstrip(" |") == f"{stats['tokens']:,}"
