"""The summary table: one row per score, model metadata joined, bad scores refused."""

from __future__ import annotations

import json

import polars as pl
import pytest

from pipeline.summary import main

MODELS = {"m": {"family": "llama", "variant": "base", "size": "tiny", "source": "tiny"}}


def row(metric: str, value: float | None) -> dict:
    return {
        "model": "m",
        "arm": "it",
        "dataset": "d",
        "language": "en",
        "task": "ner",
        "subtask": "s",
        "metric": metric,
        "value": value,
        "n": 4,
        "stderr": 0.1,
        "ci_low": 0.2,
        "ci_high": 0.9,
        "parse_failure_rate": 0.25,
        "decoding": {"max_new_tokens": 8},
        "items": [["a", 1, 1, 1]],
    }


def test_rows_and_schema(tmp_path):
    score = tmp_path / "s.json"
    score.write_text(json.dumps([row("f1_strict", 0.5), row("f1_lenient", 0.75)]))
    out = tmp_path / "summary.parquet"
    main(["--scores", str(score), "--models", json.dumps(MODELS), "--output", str(out)])
    frame = pl.read_parquet(out)
    assert frame.height == 2 and frame["family"].to_list() == ["llama", "llama"]
    assert frame.filter(pl.col("metric") == "f1_lenient")["value"].item() == 0.75
    assert json.loads(frame["decoding"][0]) == {"max_new_tokens": 8}
    assert "items" not in frame.columns


def test_non_finite_score_names_the_file(tmp_path):
    score = tmp_path / "bad.json"
    score.write_text(json.dumps([row("f1_strict", None)]))
    with pytest.raises(ValueError, match=r"bad\.json: metric 'f1_strict'"):
        main(
            ["--scores", str(score), "--models", json.dumps(MODELS), "--output", str(tmp_path / "o.parquet")]
        )
    assert not (tmp_path / "o.parquet").exists()
