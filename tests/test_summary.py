"""The summary table: one row per score, model metadata joined, significance marked, bad scores refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from conftest import paired_rows, paired_stats
from pipeline.evaluate.stats import cell_seed, estimate
from pipeline.summary import COLUMNS, main

MODELS = {"m": {"family": "llama", "variant": "base", "size": "tiny"}}
SETTINGS = {"bootstrap_samples": 300, "seed": 7, "confidence": 0.95, "reference_arm": "base"}


def row(metric: str, value: float | None, arm: str = "it", items: list | None = None, **extra: Any) -> dict:
    return {
        "model": "m",
        "arm": arm,
        "dataset": "d",
        "language": "en",
        "task": "ner",
        "subtask": "s",
        "style": "json",
        "metric": metric,
        "value": value,
        "n": 4,
        "stderr": 0.1,
        "ci_low": 0.2,
        "ci_high": 0.9,
        "parse_failure_rate": 0.25,
        "decoding": {"max_new_tokens": 8},
        "item_fields": ["tp", "n_pred", "n_gold"],
        "items": items if items is not None else [["a", 1, 1, 1]],
        **extra,
    }


def qa_row(arm: str, correct: list[int], metric: str = "accuracy", style: str | None = "json") -> dict:
    stats = np.asarray(correct, dtype=float)[:, None]
    est = estimate("accuracy", stats)
    items = [[f"q{i:02d}", c] for i, c in enumerate(correct)]
    return row(
        metric, est.value, arm, items, task="qa", subtask="mcq", item_fields=["correct"], style=style, n=est.n
    )


def write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows))
    return path


def run(tmp_path: Path, *args: str, settings: dict | None = None) -> pl.DataFrame:
    out = tmp_path / "summary.parquet"
    main(
        [
            *args,
            "--settings",
            json.dumps({"models": MODELS, **(settings or SETTINGS)}),
            "--output",
            str(out),
        ]
    )
    return pl.read_parquet(out)


def test_rows_and_schema(tmp_path):
    score = write(tmp_path / "s.json", [row("f1_strict_typed", 0.5), row("f1_lenient", 0.75)])
    frame = run(tmp_path, "--scores", str(score))
    assert frame.columns == list(COLUMNS)
    assert frame.height == 2 and frame["family"].to_list() == ["llama", "llama"]
    assert frame.filter(pl.col("metric") == "f1_lenient")["value"].item() == 0.75
    assert json.loads(frame["decoding"][0]) == {"max_new_tokens": 8}
    assert frame["evaluation"].to_list() == ["generate", "generate"] and frame["style"][0] == "json"
    assert frame["p_value"].null_count() == 2  # no reference arm among the scores


def test_significance_against_the_reference_arm(tmp_path):
    """delta/p_value equal a paired bootstrap with the cell's seed; only the main metric is tested."""
    rng = np.random.default_rng(0)
    base_correct = (rng.random(40) < 0.3).astype(int).tolist()
    good_correct = [1] * 36 + [0] * 4
    same_correct = list(base_correct)
    base = qa_row("base", base_correct)
    good, same = qa_row("good", good_correct), qa_row("same", same_correct)
    extra = {**qa_row("good", good_correct), "metric": "parse_ok"}
    files = [
        write(tmp_path / f"{name}.json", rows)
        for name, rows in (("base", [base]), ("good", [good, extra]), ("same", [same]))
    ]
    frame = run(tmp_path, "--scores", *map(str, files))
    by_arm = {r["arm"]: r for r in frame.filter(pl.col("metric") == "accuracy").iter_rows(named=True)}
    assert by_arm["base"]["reference_arm"] is None and by_arm["base"]["p_value"] is None
    seed = cell_seed(SETTINGS["seed"], ("d", "en", "qa", "mcq"))
    want = paired_rows(good, base, SETTINGS["bootstrap_samples"], seed, SETTINGS["confidence"])
    got = by_arm["good"]
    assert got["reference_arm"] == "base" and got["delta"] == pytest.approx(want.delta)
    assert got["p_value"] == pytest.approx(want.p_value) and got["significant"] is True
    assert (
        by_arm["same"]["delta"] == 0
        and by_arm["same"]["p_value"] == 1
        and by_arm["same"]["significant"] is False
    )
    assert frame.filter(pl.col("metric") == "parse_ok")["p_value"].item() is None


def test_evaluations_are_compared_within_themselves(tmp_path):
    """Log-likelihood rows meet the reference's log-likelihood rows; stability rows meet the same style."""
    ones, zeros = [1] * 30, [0] * 30
    gen = [write(tmp_path / "g" / f"{a}.json", [qa_row(a, c)]) for a, c in (("base", zeros), ("cpt", ones))]
    loglik = [
        write(
            tmp_path / "l" / f"{a}.json",
            [qa_row(a, c, "loglik_acc", None), qa_row(a, c, "loglik_acc_norm", None)],
        )
        for a, c in (("base", ones), ("cpt", ones))
    ]
    stability = [
        write(tmp_path / "s" / f"{a}-{s}.json", [qa_row(a, c, style=s)])
        for a, s, c in (
            ("base", "qa_answer_only", zeros),
            ("base", "qa_explain", ones),
            ("cpt", "qa_answer_only", zeros),
            ("cpt", "qa_explain", ones),
        )
    ]
    frame = run(
        tmp_path,
        "--scores",
        *map(str, gen),
        "--loglik-scores",
        *map(str, loglik),
        "--stability-scores",
        *map(str, stability),
    )
    cpt = frame.filter(pl.col("arm") == "cpt")
    delta = {(r["evaluation"], r["style"], r["metric"]): r["delta"] for r in cpt.iter_rows(named=True)}
    assert delta == {
        ("generate", "json", "accuracy"): 1.0,
        ("loglik", None, "loglik_acc"): 0.0,
        ("loglik", None, "loglik_acc_norm"): 0.0,
        ("stability", "qa_answer_only", "accuracy"): 0.0,
        ("stability", "qa_explain", "accuracy"): 0.0,
    }


def test_reference_arm_is_a_setting(tmp_path):
    files = [write(tmp_path / f"{a}.json", [qa_row(a, c)]) for a, c in (("base", [0] * 9), ("cpt", [1] * 9))]
    frame = run(tmp_path, "--scores", *map(str, files), settings={**SETTINGS, "reference_arm": "cpt"})
    assert frame.filter(pl.col("arm") == "base")["delta"].item() == -1.0


def test_paired_rows_must_cover_the_same_items(tmp_path):
    base = write(tmp_path / "base.json", [qa_row("base", [0, 1, 1])])
    it = write(tmp_path / "it.json", [qa_row("it", [0, 1])])
    with pytest.raises(ValueError, match=r"it\.json and .*base\.json cover different items"):
        run(tmp_path, "--scores", str(base), str(it))
    assert not (tmp_path / "summary.parquet").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([row("f1_strict_typed", None)], r"bad\.json: metric 'f1_strict_typed' has no finite value"),
        (
            [row("f1_strict_typed", 0.5, items=[])],
            r"bad\.json: metric 'f1_strict_typed' has no per-item statistics",
        ),
        ([{"metric": "f1_strict_typed"}], r"bad\.json: a metric row lacks \['model'"),
        ({"metric": "x"}, r"bad\.json: expected a JSON list"),
    ],
)
def test_bad_score_files_name_the_file(tmp_path, rows, message):
    score = write(tmp_path / "bad.json", rows)
    with pytest.raises(ValueError, match=message):
        run(tmp_path, "--scores", str(score))
    assert not (tmp_path / "summary.parquet").exists()


def test_a_grid_that_scores_nothing_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no score files"):
        run(tmp_path)
    assert not (tmp_path / "summary.parquet").exists()


def _cells(arm: str, cells: dict[str, list[int]]) -> list[dict]:
    return [{**qa_row(arm, correct), "subtask": name} for name, correct in cells.items()]


def test_p_values_are_corrected_for_multiple_comparisons(tmp_path):
    """Holm by default, Benjamini-Hochberg on request; `significant` reads the adjusted value."""
    rng = np.random.default_rng(1)
    base = {f"c{i}": (rng.random(30) < 0.5).astype(int).tolist() for i in range(6)}
    better = {name: [1] * 30 if name == "c0" else list(c) for name, c in base.items()}
    better["c1"] = [1 - c if i < 5 else c for i, c in enumerate(base["c1"])]
    files = [
        write(tmp_path / "base.json", _cells("base", base)),
        write(tmp_path / "it.json", _cells("it", better)),
    ]
    tested = {}
    for method in ("holm", "bh", "none"):
        frame = run(tmp_path, "--scores", *map(str, files), settings={**SETTINGS, "correction": method})
        tested[method] = frame.filter(pl.col("arm") == "it").sort("subtask")
        assert set(tested[method]["correction"]) == {method}
    raw = np.asarray(tested["none"]["p_value"])
    assert (tested["none"]["p_adjusted"] == tested["none"]["p_value"]).all()
    from pipeline.evaluate.stats import adjust_p_values

    for method in ("holm", "bh"):
        frame = tested[method]
        assert np.asarray(frame["p_adjusted"]) == pytest.approx(adjust_p_values(raw, method))
        assert frame["significant"].to_list() == [p < 0.05 for p in frame["p_adjusted"]]
    assert (np.asarray(tested["holm"]["p_adjusted"]) >= raw).all()
    assert tested["holm"]["p_adjusted"][0] > raw[0] > 0  # six tests in one family


def test_correction_families_follow_correction_by(tmp_path):
    cells = {f"c{i}": [1, 0] * 10 for i in range(3)}
    files = [write(tmp_path / f"{a}.json", _cells(a, cells)) for a in ("base", "x", "y")]
    whole = run(tmp_path, "--scores", *map(str, files), settings={**SETTINGS, "correction": "holm"})
    per_arm = run(
        tmp_path,
        "--scores",
        *map(str, files),
        settings={**SETTINGS, "correction": "bh", "correction_by": ["arm", "subtask"]},
    )
    assert whole.filter(pl.col("arm") != "base")["p_adjusted"].to_list() == [1.0] * 6
    one_test = per_arm.filter(pl.col("arm") != "base")
    assert (one_test["p_adjusted"] == one_test["p_value"]).all()
    with pytest.raises(ValueError, match=r"scoring.correction_by\[0\]: must be one of .*got 'colour'"):
        run(tmp_path, "--scores", *map(str, files), settings={**SETTINGS, "correction_by": ["colour"]})


def harness_row(arm: str, values: list[float], metric: str = "acc", with_items: bool = True) -> dict:
    """A `pipeline.evaluate.harness` score row (lm-eval metric, per-document values as items)."""
    value = float(np.mean(values))
    extra = (
        {"item_fields": ["value"], "items": [[str(i), v] for i, v in enumerate(values)]} if with_items else {}
    )
    return {
        "model": "m",
        "arm": arm,
        "dataset": "medmcqa",
        "language": None,
        "task": "lm_eval",
        "subtask": "none",
        "metric": metric,
        "value": value,
        "n": len(values),
        "stderr": 0.05,
        "ci_low": value - 0.1,
        "ci_high": value + 0.1,
        "parse_failure_rate": None,
        "decoding": {"method": "lm_eval", "num_fewshot": 3},
        **extra,
    }


def test_lm_eval_rows_join_the_summary_and_are_tested_on_their_documents(tmp_path):
    base_values, better_values = [0.0, 1.0] * 20, [1.0] * 36 + [0.0] * 4
    files = [
        write(
            tmp_path / "base.json",
            [harness_row("base", base_values), harness_row("base", [0.3], "f1", False)],
        ),
        write(
            tmp_path / "cpt.json", [harness_row("cpt", better_values), harness_row("cpt", [0.5], "f1", False)]
        ),
    ]
    frame = run(tmp_path, "--lm-eval-scores", *map(str, files))
    assert set(frame["evaluation"]) == {"lm_eval"} and frame["language"].null_count() == 4
    cpt = {r["metric"]: r for r in frame.filter(pl.col("arm") == "cpt").iter_rows(named=True)}
    assert cpt["acc"]["delta"] == pytest.approx(0.4) and cpt["acc"]["significant"] is True
    stats_a, stats_b = np.asarray(better_values)[:, None], np.asarray(base_values)[:, None]
    seed = cell_seed(SETTINGS["seed"], ("medmcqa", "", "lm_eval", "none"))
    want = paired_stats("accuracy", stats_a, stats_b, SETTINGS["bootstrap_samples"], seed)
    assert cpt["acc"]["p_value"] == pytest.approx(want.p_value)
    assert cpt["f1"]["p_value"] is None and cpt["f1"]["value"] == 0.5  # no per-document values: not tested
