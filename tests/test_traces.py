"""Reasoning-trace stage on the real HuatuoGPT-o1 sample."""

from __future__ import annotations

import pytest

from pipeline.io import read_jsonl
from pipeline.tasks.settings import TracesSettings
from pipeline.tasks.traces import load_traces, main


def source(**mapping) -> TracesSettings:
    return TracesSettings.from_mapping(mapping, "traces.x")


def test_real_csv_sample_loads_every_row(shared_data, tmp_path):
    out = tmp_path / "traces.jsonl"
    spec = '{"path": "%s", "reader": "reasoning_csv"}' % (shared_data / "reasoning")
    main(["--settings", spec, "--output", str(out)])
    traces = read_jsonl(out)
    assert len(traces) == 10
    assert len({t["id"] for t in traces}) == 10
    assert all(t["question"] and t["reasoning"] and t["answer"] and t["language"] == "en" for t in traces)


def test_unknown_reader_and_missing_path_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"traces\.x\.reader: must be one of .*got 'huatuo'"):
        source(path=str(tmp_path), reader="huatuo")
    with pytest.raises(ValueError, match=r"no \.csv, \.json or \.jsonl files"):
        load_traces(source(path=str(tmp_path), reader="reasoning_csv"))


def test_the_thesis_trace_sources_each_load_with_language_selection(shared_data, tmp_path):
    """medical-o1-reasoning-SFT (JSON list, as published), MedReason (JSONL, options join the question)
    and the HuatuoGPT-o1 CSV, one folder; `languages` keeps only the wanted ones."""
    import csv
    import json

    with open(shared_data / "reasoning/translated_medical_o1_input_en_to_th.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    o1 = [{"Question": r["original_question_en"], "Complex_CoT": r["complex_cot"], "Response": r["response"]}
          for r in rows]  # fmt: skip
    (tmp_path / "medical_o1_sft.json").write_text(json.dumps(o1), encoding="utf-8")
    (tmp_path / "medical_o1_sft_Chinese.json").write_text(
        json.dumps([{**o1[0], "language": "zh"}]), encoding="utf-8"
    )
    en = load_traces(source(path=str(tmp_path), reader="medical_o1", languages=["en"]))
    assert len(en) == len(rows) and {t["language"] for t in en} == {"en"}
    assert en[0]["id"] == "medical_o1_sft/trace-00000" and en[0]["answer"] == rows[0]["response"].strip()
    both = load_traces(source(path=str(tmp_path), reader="medical_o1"))
    assert len(both) == len(rows) + 1 and both[-1]["language"] == "zh"  # files in name order
    with pytest.raises(ValueError, match=r"no trace in languages \['it'\]"):
        load_traces(source(path=str(tmp_path), reader="medical_o1", languages=["it"]))

    medreason = tmp_path / "medreason.jsonl"
    record = {
        "question": "Which drug?",
        "options": "Answer Choices:\nA. aspirin\nB. heparin",
        "reasoning": "Anticoagulation is needed.",
        "answer": "B. heparin",
        "dataset_name": "medqa",
    }
    medreason.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (trace,) = load_traces(source(path=str(medreason), reader="medreason", language="en"))
    assert trace["question"] == "Which drug?\nAnswer Choices:\nA. aspirin\nB. heparin"
    assert trace["reasoning"] == "Anticoagulation is needed." and trace["answer"] == "B. heparin"

    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text(json.dumps({"q": "Q", "cot": "C", "a": "A", "lang": "it"}) + "\n", encoding="utf-8")
    fields = {"question": "q", "reasoning": "cot", "answer": "a", "language": "lang"}
    (trace,) = load_traces(source(path=str(renamed), reader="reasoning_jsonl", fields=fields))
    assert trace["language"] == "it" and trace["question"] == "Q"
