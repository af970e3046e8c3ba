"""A slice of the real-model preset end to end: SmolLM2-135M-Instruct (a real pretrained model, from its
PyPI GGUF) on the real data samples, every arm of the preset, run under `--directory` elsewhere so that
the registry's relative `../shared/data` paths must resolve the same way in the dry run and the jobs."""

from __future__ import annotations

import json

import polars as pl
import pytest
import yaml

from conftest import REPO
from test_workflow import snakemake

pytestmark = pytest.mark.e2e

MODEL = "smollm2-135m-instruct"
CONFIGS = [
    REPO / "config" / "studies" / "real-smollm2.yaml",
    REPO / "config" / "presets" / "real-smollm2-slice.yaml",
]


@pytest.fixture(scope="module")
def run(shared_data, smollm2, tmp_path_factory):
    """The slice, run in a folder outside the checkout (`smollm2` skips where the wheel is missing)."""
    workdir = tmp_path_factory.mktemp("real-slice")
    snakemake("--cores", "2", "--directory", str(workdir), "--configfile", *map(str, CONFIGS), timeout=2400)
    return workdir / "results"


def predictions(results, arm: str) -> list[dict]:
    files = sorted((results / "predictions" / MODEL / arm).rglob("*.jsonl"))
    return [json.loads(line) for path in files for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_arm_and_cell_is_scored(run):
    config = yaml.safe_load(CONFIGS[0].read_text())
    summary = pl.read_parquet(run / "summary.parquet")
    generated = summary.filter(pl.col("evaluation") == "generate")
    assert set(generated["arm"]) == set(config["arms"])
    assert set(generated["dataset"]) == set(config["evaluate_datasets"])
    assert (generated["n"] == 2).all()
    loglik = summary.filter(pl.col("evaluation") == "loglik")
    assert set(loglik["arm"]) == {"base", "cpt-slerp"} and (loglik["n"] == 4).all()
    assert (run / "report" / "index.md").exists()


def test_instruct_prompts_use_the_models_own_chat_template(run):
    for record in predictions(run, "base"):
        assert record["prompt"].startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
        assert record["prompt"].endswith("<|im_end|>\n<|im_start|>assistant\n")
        assert "\r" not in record["prompt"]


def test_predictions_of_the_real_model_parse(run):
    from pipeline.evaluate.parse import parse_record

    qa = [r for r in predictions(run, "base") if r["task"] == "qa"]
    assert any(parse_record(r).ok for r in qa), [r["completion"] for r in qa]
    rows = [
        row for p in (run / "scores" / MODEL / "base").rglob("*.json") for row in json.loads(p.read_text())
    ]
    assert min(row["parse_failure_rate"] for row in rows) < 1.0


def test_trained_and_merged_folders_load_with_from_pretrained(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models = run / "models" / MODEL
    for arm in ("it", "cpt", "cpt-it", "rot", "cpt-slerp"):
        model = AutoModelForCausalLM.from_pretrained(models / arm)
        assert model.config.model_type == "llama", arm
        assert AutoTokenizer.from_pretrained(models / arm).chat_template, arm
        assert json.loads((models / arm / "medadapt_model.json").read_text())["variant"] == "instruct", arm
    adapter = json.loads((models / "it" / "adapter" / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA"
