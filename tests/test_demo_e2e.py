"""The embedded demo, end to end: every cell scored, nothing left to do, precise reruns.

One real `snakemake --cores 2` run (minutes) shared by the tests of this module.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
import yaml

from conftest import REPO
from test_workflow import job_counts, snakemake, write_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    config = str(REPO / "config/config.yaml")
    snakemake("--cores", "2", "--directory", str(workdir), "--configfile", config, timeout=3600)
    return workdir


@pytest.fixture(scope="module")
def summary(demo_run) -> pl.DataFrame:
    return pl.read_parquet(demo_run / "results" / "summary.parquet")


def test_summary_has_every_cell_without_nan(demo_run, summary):
    from pipeline.grid import load_grid

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    grid = load_grid(config, REPO)
    cells = ["model", "arm", "dataset", "language", "subtask"]
    for evaluation, arms, grid_cells in (
        ("generate", grid.arms, grid.cells()),
        ("loglik", grid.loglik_arms, grid.loglik_cells()),
    ):
        expected = {(m, a, *cell) for m in grid.models for a in arms for cell in grid_cells}
        rows = summary.filter(pl.col("evaluation") == evaluation)
        assert set(rows.select(cells).unique().iter_rows()) == expected, evaluation
    assert all(math.isfinite(v) for v in summary["value"])
    assert summary.filter(pl.col("n") <= 0).is_empty()


def test_every_arm_is_tested_against_base_on_each_main_metric(summary):
    main = summary.filter(pl.col("p_value").is_not_null())
    assert set(main.get_column("arm")) == {"it", "cpt", "cpt-it", "rot", "cpt-slerp"}
    assert (main.get_column("reference_arm") == "base").all()
    assert main.filter(pl.col("evaluation") == "generate").height == 5 * 6 * 15
    assert summary.filter((pl.col("arm") == "base") & pl.col("p_value").is_not_null()).is_empty()


def test_rerun_has_nothing_to_do(demo_run):
    out = snakemake(
        "-n", "--directory", str(demo_run), "--configfile", str(REPO / "config/config.yaml")
    ).stdout
    assert "Nothing to be done" in out


def test_changing_one_arm_reruns_only_that_arm(demo_run, tmp_path):
    config = write_config(tmp_path, lambda c: c["arms"]["rot"].setdefault("settings", {}).update(lr=1e-3))
    out = snakemake("-n", "--directory", str(demo_run), "--configfile", str(config)).stdout
    n_models = len(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["models"])
    counts = {rule: n for rule, n in job_counts(out).items() if rule != "all"}
    assert counts == {"sft": n_models, "generate": n_models, "score": n_models, "summary": 1, "report": 1}
    assert "arm=rot" in out and "arm=it," not in out


def test_instruction_tuning_raises_valid_json_share_on_ner(summary):
    ner = summary.filter((pl.col("task") == "ner") & (pl.col("metric") == "f1_strict_typed"))
    valid = ner.group_by("arm").agg((1 - pl.col("parse_failure_rate")).mean().alias("valid_json"))
    share = dict(valid.iter_rows())
    assert share["it"] > share["base"], share
