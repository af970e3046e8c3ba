"""The demo-scale twins of the seed studies, end to end: each run produces its report section in
the paper's layout (Preferred-MedLLM Table 2; PARTAGES Tables 3–6 and the progression figure)."""

from __future__ import annotations

import math

import polars as pl
import pytest
import yaml

from conftest import REPO
from pipeline.dag.grid import load_grid
from test_workflow import snakemake

pytestmark = pytest.mark.e2e


def run_study(tmp_path_factory, name: str):
    workdir = tmp_path_factory.mktemp(name)
    config = REPO / "config" / "studies" / f"{name}.yaml"
    snakemake("--cores", "2", "--directory", str(workdir), "--configfile", str(config), timeout=1800)
    grid = load_grid(yaml.safe_load(config.read_text()), REPO)
    return workdir, grid, pl.read_parquet(workdir / "results" / "summary.parquet")


@pytest.fixture(scope="module")
def preferred(tmp_path_factory):
    return run_study(tmp_path_factory, "preferred-medllm-demo")


@pytest.fixture(scope="module")
def partages(tmp_path_factory):
    return run_study(tmp_path_factory, "partages-demo")


def test_preferred_medllm_twin_scores_both_styles_of_every_arm(preferred):
    workdir, grid, summary = preferred
    stability = summary.filter((pl.col("evaluation") == "stability") & (pl.col("metric") == "accuracy"))
    expected = {
        (arm, style, *cell)
        for arm in grid.arms
        for style in ("qa_answer_only", "qa_explain")
        for cell in grid.stability_cells()
    }
    assert set(stability.select("arm", "style", "dataset", "language", "subtask").iter_rows()) == expected
    assert all(math.isfinite(v) for v in summary["value"])
    tested = stability.filter(pl.col("arm") != "base")
    assert tested["p_value"].null_count() == 0 and (tested["reference_arm"] == "base").all()
    pairs = workdir / "results" / "preferences" / "qwen3-base"
    assert {p.stem for p in pairs.glob("*.jsonl")} == {"rpo-only", "cpt-dpo", "cpt-rpo"}


def test_preferred_medllm_twin_report_has_the_table_2_layout(preferred):
    workdir, grid, _ = preferred
    report = workdir / "results" / "report"
    table = (report / "stability_table2.md").read_text(encoding="utf-8")
    header = table.splitlines()[0]
    assert (
        "demo-mcq answer-only" in header
        and "demo-mcq with explanation" in header
        and "demo-mcq drop" in header
    )
    for arm in grid.arms:
        assert f"| qwen3-base | {arm} |" in table
    assert "Explanation stability" in (report / "index.md").read_text(encoding="utf-8")


def test_partages_twin_scores_every_checkpoint_in_both_languages(partages):
    workdir, grid, summary = partages
    loglik = summary.filter(pl.col("evaluation") == "loglik")
    assert set(loglik.get_column("language")) == {"en", "fr"}
    assert set(loglik.get_column("arm")) == set(grid.arms)
    assert set(loglik.select("dataset", "language", "subtask").unique().iter_rows()) == set(
        grid.loglik_cells()
    )
    marked = loglik.filter(pl.col("arm") != "base")
    assert marked["significant"].null_count() == 0
    french = pl.read_parquet(workdir / "results" / "corpus" / "clean" / "demo-fr.parquet")
    assert french.height > 0 and set(french.get_column("language")) == {"fr"}


def test_partages_twin_report_has_the_tables_3_to_6_layout_and_progression(partages):
    workdir, _, _ = partages
    report = workdir / "results" / "report"
    for group in ("medical", "general"):
        for language in ("en", "fr"):
            table = (report / f"knowledge_{group}_{language}.md").read_text(encoding="utf-8")
            rows = [line.split("|")[2].strip() for line in table.splitlines()[2:]]
            assert rows == ["base", "pdapt@step-10", "pdapt@step-20", "pdapt", "pdapt-slerp"]
    progression = (report / "progression.md").read_text(encoding="utf-8")
    assert "medical (loglik)" in progression.splitlines()[0]
    for arm in ("pdapt@step-10", "pdapt@step-20", "pdapt-slerp"):
        assert f"| {arm} |" in progression
    assert (report / "progression_curve.png").stat().st_size > 0
