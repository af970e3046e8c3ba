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
    assert counts == {
        "sft": n_models,
        "generate": n_models,
        "score": n_models,
        "summary": 1,
        "report": 1,
        "model_cards": 1,
    }
    assert "arm=rot" in out and "arm=it," not in out


def test_instruction_tuning_raises_valid_json_share_on_ner(summary):
    ner = summary.filter((pl.col("task") == "ner") & (pl.col("metric") == "f1_strict_typed"))
    valid = ner.group_by("arm").agg((1 - pl.col("parse_failure_rate")).mean().alias("valid_json"))
    share = dict(valid.iter_rows())
    assert share["it"] > share["base"], share


def test_every_model_folder_says_where_it_came_from(demo_run, summary):
    """A card and a run record naming the code's commit in every model folder (and kept checkpoint),
    adapters naming their base, the summary's run columns, evaluated cards and paper-ready report files."""
    from pipeline.provenance import CARD, RUN_RECORD, code_state

    commit = code_state(REPO)["commit"]
    folders = [p for p in (demo_run / "results" / "models").glob("*/*") if p.is_dir()]
    folders += list((demo_run / "results" / "models").glob("*/*/checkpoints/step-*"))
    assert folders
    for folder in folders:
        record = yaml.safe_load((folder / RUN_RECORD).read_text())
        assert record["code"]["commit"] == commit and record["config_hash"], folder
        assert (folder / CARD).read_text().startswith("---\n"), folder
    for adapter in (demo_run / "results" / "models").glob("*/*/adapter/adapter_config.json"):
        base = yaml.safe_load(adapter.read_text())["base_model_name_or_path"]
        assert base.startswith("results/models/"), adapter  # tiny bases have no hub id: the parent folder
    assert summary["commit"].str.starts_with(commit).all() and summary["run_id"].n_unique() == 1
    cards = demo_run / "results" / "model_cards"
    assert len(list(cards.glob("*/*.md"))) == len([f for f in folders if "checkpoints" not in f.parts])
    report = demo_run / "results" / "report"
    for suffix in ("png", "pdf", "svg", "tex"):
        assert list(report.glob(f"*.{suffix}")), suffix
