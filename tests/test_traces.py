"""Reasoning-trace stage on the real HuatuoGPT-o1 sample."""

from __future__ import annotations

import pytest

from pipeline.io import read_jsonl
from pipeline.tasks.traces import load_traces, main


def test_real_csv_sample_loads_every_row(shared_data, tmp_path):
    out = tmp_path / "traces.jsonl"
    spec = '{"path": "%s", "reader": "reasoning_csv"}' % (shared_data / "reasoning")
    main(["--spec", spec, "--output", str(out)])
    traces = read_jsonl(out)
    assert len(traces) == 10
    assert len({t["id"] for t in traces}) == 10
    assert all(t["question"] and t["reasoning"] and t["answer"] and t["language"] == "en" for t in traces)


def test_unknown_reader_and_missing_path_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown reader 'huatuo'"):
        load_traces({"path": str(tmp_path), "reader": "huatuo"})
    with pytest.raises(ValueError, match=r"no \.csv, \.json or \.jsonl files"):
        load_traces({"path": str(tmp_path), "reader": "reasoning_csv"})
