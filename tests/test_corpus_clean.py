"""Cleaning rules, source readers and the clean stage."""

from __future__ import annotations

import json
import unicodedata

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.corpus import clean
from pipeline.corpus.clean import Cleaner, clean_source
from pipeline.corpus.settings import CleanSettings
from pipeline.corpus.sources import Source, iter_documents

LONG = " ".join(["paziente"] * 25)


def cleaner(language: str = "en", **overrides) -> Cleaner:
    return Cleaner(language, CleanSettings.from_mapping({"min_words": 1, **overrides}, "test"))


def test_nfc_composes_and_counts():
    c = cleaner("it")
    decomposed = "perche\u0301 e\u0300"
    assert c.clean(decomposed) == "perché è"
    assert c.documents["nfc"] == 1 and c.characters["nfc"] == 2


def test_control_and_format_characters_removed():
    c = cleaner()
    assert c.clean("fe\u200bver\x07 and \ufeffpain \U000e0001ok") == "fever and pain ok"
    assert c.characters["control_characters"] == 4


def test_urls_removed_keeping_sentence_punctuation():
    c = cleaner()
    assert c.clean("See https://example.org/a?b=1. Then www.who.int, done") == "See . Then , done"
    assert c.documents["urls"] == 1
    assert cleaner(urls=False).clean("see https://x.org now") == "see https://x.org now"


def test_charset_keeps_language_letters_and_medical_symbols():
    text = "Febbre 38,5 °C, TNF-α ±2 µg/L, 50% «così» più"
    assert cleaner("it").clean(text) == text
    assert cleaner("es").clean("¿Dolor? 1ª dosis, niño") == "¿Dolor? 1ª dosis, niño"
    c = cleaner("en")
    assert c.clean("fever лихорадка 😀 noted") == "fever noted"
    assert c.characters["charset"] == len("лихорадка😀")


def test_unknown_language_is_an_error():
    with pytest.raises(ValueError, match="no alphabet for language 'xx'"):
        cleaner("xx")


def test_punctuation_and_whitespace_collapse():
    c = cleaner()
    assert c.clean("Really!!!!!   yes...\t\n\n\n\nNext ----- line") == "Really! yes...\n\nNext - line"
    assert c.documents["collapse_punctuation"] == 1
    assert c.documents["whitespace"] == 1


def test_document_filters():
    c = cleaner(min_words=3)
    assert c.clean("too short") is None
    assert c.clean("12 34 56 78 90 / a") is None
    assert c.documents["min_words"] == 1 and c.documents["min_alpha_ratio"] == 1
    assert c.characters["min_words"] == len("too short")


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def source(path, fmt="jsonl", licence=None, language="it", **extra) -> Source:
    return Source(
        name="s",
        path=str(path),
        format=fmt,
        language=language,
        doc_type="case_report",
        licence=licence,
        **extra,
    )


def test_clean_source_writes_parquet_and_consistent_stats(tmp_path):
    write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"id": "1", "text": LONG + " http://x.org", "licence": "CC-BY"},
            {"id": "2", "text": "breve", "licence": "CC-BY-NC"},
            {"id": "3", "text": "пациент " * 30 + LONG, "licence": "CC-BY-NC"},
        ],
    )
    out = tmp_path / "clean.parquet"
    stats = clean_source(source(tmp_path / "a.jsonl"), CleanSettings(), out)
    table = pq.read_table(out)
    assert table.column_names == ["id", "source", "language", "doc_type", "licence", "text", "words"]
    assert table.column("id").to_pylist() == ["1", "3"]
    assert table.column("licence").to_pylist() == ["CC-BY", "CC-BY-NC"]
    assert table.column("words").to_pylist() == [25, 25]
    assert stats["documents_in"] == 3 and stats["documents_out"] == 2
    assert stats["rules"]["min_words"]["documents"] == 1
    removed = sum(r["characters"] for r in stats["rules"].values())
    assert stats["characters_in"] - stats["characters_out"] == removed


def test_workers_give_identical_output(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": str(i), "text": f"{LONG} {i}!!!!"} for i in range(50)])
    src = source(tmp_path / "a.jsonl", licence="CC0")
    one = clean_source(src, CleanSettings(batch_size=7), tmp_path / "one.parquet")
    two = clean_source(src, CleanSettings(batch_size=7, workers=2), tmp_path / "two.parquet")
    assert pq.read_table(tmp_path / "one.parquet").equals(pq.read_table(tmp_path / "two.parquet"))
    assert {k: v for k, v in one.items() if k != "settings"} == {
        k: v for k, v in two.items() if k != "settings"
    }


def test_parquet_and_text_sources(tmp_path):
    pq.write_table(pa.table({"id": ["a", "b"], "body": [LONG, LONG + " x"]}), tmp_path / "d.parquet")
    docs = list(iter_documents(source(tmp_path / "d.parquet", "parquet", "CC0", text_field="body")))
    assert [(d.id, d.licence) for d in docs] == [("a", "CC0"), ("b", "CC0")]
    (tmp_path / "txt" / "sub").mkdir(parents=True)
    (tmp_path / "txt" / "sub" / "one.txt").write_text(LONG, encoding="utf-8")
    docs = list(iter_documents(source(tmp_path / "txt", "text", "CC-BY")))
    assert docs == [("sub/one.txt", LONG, "CC-BY")]
    with pytest.raises(ValueError, match="source-level licence"):
        list(iter_documents(source(tmp_path / "txt", "text", None)))


def test_hf_dispatch_local_and_hub(tmp_path, monkeypatch):
    import datasets

    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_dict({"id": ["x"], "text": [LONG], "licence": ["CC-BY"]})}
    )
    dd.save_to_disk(tmp_path / "saved")
    assert list(iter_documents(source(tmp_path / "saved", "hf"))) == [("x", LONG, "CC-BY")]
    with pytest.raises(ValueError, match="no split 'test'"):
        list(iter_documents(source(tmp_path / "saved", "hf", split="test")))

    calls = []

    def fake_load_dataset(path, name, split, streaming):
        calls.append((path, name, split, streaming))
        return iter([{"text": LONG}])

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    docs = list(iter_documents(source("org/corpus", "hf", "CC0", config="it", split="train")))
    assert calls == [("org/corpus", "it", "train", True)]
    assert docs == [("0", LONG, "CC0")]


def test_bad_input_names_file_and_record(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok", "licence": "CC0"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2: invalid JSON"):
        list(iter_documents(source(tmp_path / "bad.jsonl")))
    write_jsonl(tmp_path / "nolic.jsonl", [{"text": "ok"}])
    with pytest.raises(ValueError, match=r"nolic\.jsonl:1: .*'licence' is missing"):
        list(iter_documents(source(tmp_path / "nolic.jsonl")))
    write_jsonl(tmp_path / "notext.jsonl", [{"body": "ok"}])
    with pytest.raises(ValueError, match=r"notext\.jsonl:1: field 'text'"):
        list(iter_documents(source(tmp_path / "notext.jsonl", licence="CC0")))
    with pytest.raises(ValueError, match="unknown format"):
        source(tmp_path, "xml")
    with pytest.raises(ValueError, match=r"unknown keys \['lang'\]"):
        Source.from_dict({"name": "s", "lang": "en"})


def test_cli_and_unknown_setting(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "text": LONG + " ́", "licence": "CC-BY"}])
    src = json.dumps(
        {
            "name": "s",
            "path": str(tmp_path / "a.jsonl"),
            "format": "jsonl",
            "language": "it",
            "doc_type": "note",
            "licence": None,
        }
    )
    out, stats = tmp_path / "c.parquet", tmp_path / "c.json"
    clean.main(
        ["--source", src, "--settings", '{"min_words": 5}', "--output", str(out), "--stats", str(stats)]
    )
    assert json.loads(stats.read_text())["documents_out"] == 1
    assert unicodedata.is_normalized("NFC", pq.read_table(out).column("text")[0].as_py())
    with pytest.raises(ValueError, match=r"corpus.cleaning: unknown key\(s\) \['min_word'\]"):
        clean.main(
            ["--source", src, "--settings", '{"min_word": 5}', "--output", str(out), "--stats", str(stats)]
        )
