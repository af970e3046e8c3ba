"""The embedded demo, end to end: every cell scored, nothing left to do, precise reruns.

One real `snakemake --cores 2` run (minutes) shared by the tests of this module.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import REPO
from test_workflow import SNAKEMAKE, job_counts, snakemake, write_config

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
    from pipeline.dag.grid import load_grid

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
    n_models = len(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["models"])
    assert main.filter(pl.col("evaluation") == "generate").height == 5 * n_models * 15
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
    n_datasets = len(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["evaluate_datasets"])
    assert counts == {
        "sft": n_models,
        "generate": n_models * n_datasets,
        "score": n_models * n_datasets,
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
    # The generation jobs' Snakemake benchmarks reach the cost table (read beside the report's inputs).
    cost = pl.read_csv(report / "cost.csv", infer_schema_length=0)
    evaluated = cost.filter(pl.col("generation seconds").is_not_null())["benchmark seconds"].cast(pl.Float64)
    assert evaluated.len() and evaluated.null_count() == 0 and (evaluated > 0).all()


def test_snakemakes_own_report_builds_from_the_finished_demo(demo_run, tmp_path):
    """`snakemake --report` after the main command: the workflow's report with the figures."""
    html = tmp_path / "report.html"
    snakemake("-d", str(demo_run), "--configfile", str(REPO / "config/config.yaml"), "--report", str(html))
    assert html.stat().st_size > 10_000 and "Report" in html.read_text(errors="replace")


# -- exact rebuilds: a moved run, an edited module, an edited dataset -----------------------------
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
EVALUATED = len(DEMO["models"]) * len(DEMO["arms"])  # model × arm pairs evaluated by generation


def copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked, and untracked but not ignored) as a fresh clone has them: new
    paths, new modification times."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def moved_run(demo_run, tmp_path_factory) -> tuple[Path, Path]:
    """The finished demo re-cloned and its working directory moved (`mv` keeps file times)."""
    root = tmp_path_factory.mktemp("moved")
    workdir = root / "run"
    shutil.copytree(demo_run, workdir, symlinks=True)
    return copy_checkout(root / "checkout"), workdir


def planned(checkout: Path, workdir: Path, config: Path | None = None) -> str:
    """The jobs a dry run plans, as Snakemake prints them."""
    result = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(checkout / "Snakefile"), "-d", str(workdir), "-n", "--configfile",
         str(config or checkout / "config" / "config.yaml")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def dry_run(checkout: Path, workdir: Path, config: Path | None = None) -> dict[str, int]:
    """Jobs per rule of a dry run ({} when nothing is to be done)."""
    out = planned(checkout, workdir, config)
    if "Nothing to be done" in out:
        return {}
    return {rule: n for rule, n in job_counts(out).items() if rule != "all"}


GENERATE_JOB = r"rule generate:\n(?:.*\n)*?\s+wildcards: model=[^,]+, arm=([^,\s]+), dataset=(\S+)"


def generated(out: str, arm: str) -> set[str]:
    """The datasets whose generation `out` plans (or runs) for `arm`."""
    return {dataset for job_arm, dataset in re.findall(GENERATE_JOB, out) if job_arm == arm}


def executed(log: str) -> set[str]:
    """The rules a real run's log says it ran (checkpoints included)."""
    return set(re.findall(r"^local(?:rule|checkpoint) (\w+):$", log, re.MULTILINE))


def test_a_moved_and_recloned_finished_run_has_nothing_to_do(moved_run):
    assert dry_run(*moved_run) == {}


def test_an_edited_module_reruns_the_rules_that_import_it(moved_run, tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    parse = checkout / "src" / "pipeline" / "evaluate" / "parse.py"
    parse.write_text(parse.read_text() + "\n# edited\n")
    # Only scoring imports the parser; the summary, cards and report follow its new scores.
    assert dry_run(checkout, moved_run[1]) == {
        "score": EVALUATED * len(DEMO["evaluate_datasets"]),
        "summary": 1,
        "report": 1,
        "model_cards": 1,
    }


def test_an_edited_reader_reruns_its_datasets_cells_only(moved_run, tmp_path):
    """A reader edit re-extracts its datasets and re-evaluates them on every arm; the mixes and the
    corpus are rebuilt (checkpoints). Until they are, the dry run also plans what follows them: only
    then does Snakemake know whether their contents changed (the next test runs it)."""
    checkout = copy_checkout(tmp_path / "checkout")
    reader = checkout / "src" / "pipeline" / "tasks" / "readers" / "brat.py"
    reader.write_text(reader.read_text() + "\n# edited\n")
    out = planned(checkout, moved_run[1])
    counts = job_counts(out)
    assert counts["extract_tasks"] == 2 and counts["build_mix"] == len(DEMO["mixes"])
    assert generated(out, "base") == {"demo-ner", "demo-re"}  # untouched datasets: not regenerated
    assert "checkpoint" in out


TRAINING = {"sft", "cpt", "corpus_blocks", "merge", "rpo"}


def rebuild_training_data(workdir: Path, config: Path) -> None:
    """Run what an edit reruns up to the mixes and the corpus (the checkpoints), no further."""
    snakemake(
        "--cores",
        "2",
        "-d",
        str(workdir),
        "--configfile",
        str(config),
        "--until",
        "build_mix",
        "build_corpus",
    )


def test_an_edited_test_document_reruns_its_cells_and_no_training(demo_run, tmp_path):
    """Editing one dataset's data reruns that dataset's evaluation; its mixes and the corpus are
    rebuilt, and since decontamination removes nothing new, no model is trained again."""
    workdir = tmp_path / "run"
    shutil.copytree(demo_run, workdir, symlinks=True)
    data = tmp_path / "re_brat"
    shutil.copytree(workdir / "results" / "demo" / "re_brat", data)
    config = write_config(tmp_path, lambda c: None)
    registry = yaml.safe_load((REPO / DEMO["registry"]).read_text())
    registry["datasets"]["demo-re"]["path"] = str(data)
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    settings = yaml.safe_load(config.read_text())
    settings["registry"] = str(tmp_path / "registry.yaml")
    config.write_text(yaml.safe_dump(settings))
    # The dataset now read from its own folder: the same examples, so no model is trained again
    # (the config's hash moves the summary, cards and report; the corpus report names the registry).
    rebuild_training_data(workdir, config)
    assert not TRAINING & set(dry_run(REPO, workdir, config))

    document = sorted((data / "en" / "test").glob("*.txt"))[-1]
    document.write_text(document.read_text() + " Zyxwvut qorpex flandom.")
    # One run: the mixes and the corpus are rebuilt (checkpoints) with the same contents, so the
    # models trained on them (CPT, then CPT+IT) are not trained again, and of the evaluations asked
    # for only this dataset's reruns. The dry run before it cannot know that and plans the training.
    model = next(iter(DEMO["models"]))
    targets = [f"results/scores/{model}/cpt-it/{d}" for d in ("demo-re", "demo-ner")]
    assert TRAINING & set(job_counts(planned(REPO, workdir, config)))
    run = snakemake(*targets, "--cores", "2", "-d", str(workdir), "--configfile", str(config))
    log = run.stdout + run.stderr
    assert {"build_mix", "build_corpus", "generate"} <= executed(log)
    assert not TRAINING & executed(log), log
    assert generated(log, "cpt-it") == {"demo-re"}
