"""Every stage's settings object: defaults, rejection naming the config path and key, canonical JSON
that reads back to the same object, and the grid resolving them for every model × arm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from pipeline.dag.grid import STAGE_SECTIONS, TRAINED, Grid, deep_merge, load_grid
from pipeline.io import canonical_json
from pipeline.settings import STAGES, settings_class

# What a stage needs besides its defaults.
REQUIRED: dict[str, dict[str, Any]] = {
    "lm_eval": {"tasks": ["medmcqa"]},
    "merge": {"method": "slerp", "t": 0.5},
    "traces": {"path": "data/traces.csv", "reader": "reasoning_csv"},
}
# One bad value per stage, and the key the error must name.
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "generation": ({"batch_size": "16"}, "batch_size"),
    "stability": ({"generation": {"decoding": {"top_p": 2}}}, "generation.decoding.top_p"),
    "loglik": ({"template": "letters"}, "template"),
    "lm_eval": ({"tasks": []}, "tasks"),
    "score": ({"bootstrap_samples": 1.5}, "bootstrap_samples"),
    "summary": ({"correction": "sidak"}, "correction"),
    "report": ({"loglik_metric": "f1"}, "loglik_metric"),
    "corpus_clean": ({"nfc": "yes"}, "nfc"),
    "corpus_build": ({"dedup": {"threshold": 2}}, "dedup.threshold"),
    "corpus_blocks": ({"stride": 0}, "stride"),
    "cpt": ({"zero_stage": 1}, "zero_stage"),
    "sft": ({"lora": {"r": 0}}, "lora.r"),
    "rpo": ({"beta": 0}, "beta"),
    "preferences": ({"temperature": 0}, "temperature"),
    "merge": ({"t": 2}, "'t'"),
    "extract": ({"max_train": 0}, "max_train"),
    "traces": ({"fields": {"question": ""}}, "fields.question"),
    "it_mix": ({"tasks": ["pos"]}, "tasks[0]"),
    "rot_mix": ({"max_examples": 0}, "max_examples"),
}


def test_the_tables_cover_every_stage():
    assert set(BAD) == set(STAGES)
    assert set(STAGE_SECTIONS) | set(TRAINED) == set(STAGES) - {"it_mix", "rot_mix"} | {"mix"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_defaults_read_back_from_their_json(stage):
    settings = settings_class(stage).from_mapping(REQUIRED.get(stage, {}), "x")
    text = settings.to_json()
    assert text == canonical_json(json.loads(text)) and type(settings).from_json(text) == settings


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_an_unknown_key_is_rejected_naming_the_path_and_the_key(stage):
    with pytest.raises(ValueError, match=r"^arms\.x\.settings.*typo_key"):
        settings_class(stage).from_mapping({**REQUIRED.get(stage, {}), "typo_key": 1}, "arms.x.settings")


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_bad_value_is_rejected_naming_the_path_and_the_key(stage):
    bad, key = BAD[stage]
    with pytest.raises(ValueError) as caught:
        settings_class(stage).from_mapping({**REQUIRED.get(stage, {}), **bad}, "some.section")
    message = str(caught.value)
    assert message.startswith("some.section") and key in message, message


def test_values_keep_their_json_form():
    """Lists come back as lists, numbers as given (1 stays 1, not 1.0: the settings' JSON, and so
    the jobs' rerun trigger and the run records, do not change)."""
    from pipeline.train.settings import RpoSettings, SftSettings

    sft = SftSettings.from_mapping({"epochs": 2, "report_to": ["tensorboard"], "filter": None})
    assert sft.report_to == ("tensorboard",) and sft.to_dict()["report_to"] == ["tensorboard"]
    assert sft.to_dict()["filter"] == {"tasks": None, "languages": None}
    assert json.loads(sft.to_json())["epochs"] == 2 and '"epochs":2,' in sft.to_json()
    assert RpoSettings.from_mapping({"lora": None}).to_dict()["lora"] is None
    with pytest.raises(ValueError, match=r"sft settings\.lora: SFT trains a LoRA adapter"):
        SftSettings.from_mapping({"lora": None})
    with pytest.raises(AttributeError):
        sft.lr = 1.0  # type: ignore[misc]


def test_a_json_that_is_not_an_object_is_named():
    from pipeline.evaluate.settings import ScoreSettings

    with pytest.raises(ValueError, match="scoring: --settings is not valid JSON"):
        ScoreSettings.from_json("{seed: 1}")
    with pytest.raises(ValueError, match="scoring: --settings must be a JSON object"):
        ScoreSettings.from_json("[1]")
    assert ScoreSettings.from_json("") == ScoreSettings()


def shipped_configs() -> list[list[str]]:
    studies = sorted((REPO / "config" / "studies").glob("*.yaml"))
    return [["config.yaml"], ["thesis.yaml"], *[[f"studies/{p.name}"] for p in studies]]


def every_job(grid: Grid) -> list[tuple[str, dict[str, str]]]:
    """(stage, job) of every settings object the workflow's jobs get."""
    jobs: list[tuple[str, dict[str, str]]] = []
    for stage, needs in STAGE_SECTIONS.items():
        if stage == "lm_eval" and not grid.lm_eval_tasks:
            continue
        if needs == ("arm",):
            jobs += [(stage, {"arm": arm}) for arm in grid.arms]
        elif needs == ("corpus",):
            jobs += [(stage, {"corpus": c}) for c in grid.config["corpus"]["corpora"]]
        elif needs == ("mix",):
            jobs += [(stage, {"mix": m}) for m in grid.config.get("mixes") or {}]
        elif needs == ("traces",):
            jobs += [(stage, {"traces": t}) for t in grid.config.get("traces") or {}]
        else:
            jobs.append((stage, {}))
    for arm in grid.arms.values():
        if arm.method in TRAINED:
            jobs += [(arm.method, {"model": model, "arm": arm.name}) for model in grid.models]
    return jobs


def shipped_grid(files: list[str]) -> Grid:
    config: dict[str, Any] = {}
    for name in files:
        config = deep_merge(config, yaml.safe_load((REPO / "config" / name).read_text()))
    return load_grid(config, REPO)


@pytest.mark.parametrize("files", shipped_configs(), ids=lambda f: f[0])
def test_every_jobs_settings_read_back_from_their_json(files):
    grid = shipped_grid(files)
    for stage, job in every_job(grid):
        settings = grid.stage_settings(stage, **job)
        assert type(settings).from_json(settings.to_json()) == settings, (stage, job)


def test_the_shipped_configs_exercise_every_stage():
    stages = {stage for files in shipped_configs() for stage, _ in every_job(shipped_grid(files))}
    assert stages == set(STAGE_SECTIONS) | set(TRAINED)


def test_the_grid_resolves_what_each_job_gets(demo_config):
    grid = load_grid(demo_config, REPO)
    rot = grid.stage_settings("generation", arm="rot")
    assert rot.style == "reasoning" and grid.stage_settings("generation", arm="it").style == "json"
    assert (
        grid.stage_settings("generation", arm="it").decoding.max_new_tokens
        == (demo_config["generation"]["decoding"]["max_new_tokens"])
    )
    seed = demo_config["seed"]
    assert grid.stage_settings("score").seed == grid.stage_settings("extract").seed == seed
    assert grid.stage_settings("corpus_build", corpus="joint").seed == seed
    sft = grid.stage_settings("sft", "llama-base", "it")
    assert sft.lr == grid.settings("it", "llama-base")["lr"]
    assert "cpu_processes" not in grid.stage_settings("cpt", "llama-base", "cpt").to_dict()
    models = grid.stage_settings("summary").models  # the summary's model columns
    assert models["llama-base"].family == demo_config["models"]["llama-base"]["family"]
    traces = grid.stage_settings("traces", traces="demo-traces")
    assert traces.reader == demo_config["traces"]["demo-traces"]["reader"] and traces.language == "en"
    with pytest.raises(ValueError, match="'it' is not a cpt arm"):
        grid.stage_settings("cpt", "llama-base", "it")
    with pytest.raises(ValueError, match="unknown stage 'train'"):
        grid.stage_settings("train")


def test_identity_is_not_a_setting(demo_config):
    """Model, arm and dataset names travel as their own arguments, never inside the settings."""
    grid = load_grid(demo_config, REPO)
    for stage, job in every_job(grid):
        keys = set(grid.stage_settings(stage, **job).to_dict())
        assert not keys & {"model", "arm", "dataset", "tokenizer_name", "config_hash"}, stage


@pytest.fixture
def demo_config() -> dict[str, Any]:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_stage_settings_modules_import_no_torch():
    import subprocess
    import sys

    modules = sorted({v.split(":")[0] for v in STAGES.values()})
    code = (
        f"import sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(REPO))
