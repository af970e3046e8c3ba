"""The grid: arms, lineage, effective settings, cells."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from pipeline.dag.grid import deep_merge, load_grid


@pytest.fixture(scope="module")
def demo_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def study_config(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / "studies" / f"{name}.yaml").read_text())


def test_lineage_and_methods(demo_config):
    grid = load_grid(demo_config, REPO)
    assert grid.lineage("cpt-it") == ["base", "cpt", "cpt-it"]
    assert grid.lineage("cpt-slerp") == ["base", "cpt", "cpt-slerp"]
    assert set(grid.arms_with("sft")) == {"it", "cpt-it", "rot"}
    assert grid.arms["rot"].eval_style == "reasoning" and grid.arms["it"].eval_style == "json"
    partages = load_grid(study_config("partages-demo"), REPO)
    assert partages.lineage("pdapt@step-20") == ["base", "pdapt", "pdapt@step-20"]
    assert partages.cells() == [] and len(partages.loglik_cells()) == 4
    preferred = load_grid(study_config("preferred-medllm-demo"), REPO)
    assert set(preferred.arms_with("rpo")) == {"rpo-only", "cpt-dpo", "cpt-rpo"}
    assert preferred.settings("cpt-dpo")["loss"] == "dpo" and preferred.stability_arms == list(preferred.arms)


def test_training_data_follows_the_lineage(demo_config):
    """What each arm's models were trained on, base first: the workflow ties their jobs to it."""
    grid = load_grid(demo_config, REPO)
    corpus, mix = grid.arms["cpt"].spec["corpus"], grid.arms["cpt-it"].spec["mix"]
    assert grid.training_data("base") == []
    assert grid.training_data("cpt-it") == [("corpus", corpus), ("mix", mix)]
    assert grid.training_data("cpt-slerp") == [("corpus", corpus)]


def test_arm_settings_override_method_defaults(demo_config):
    config = copy.deepcopy(demo_config)
    config["arms"]["it"]["settings"] = {"lr": 1e-4, "lora": {"r": 4}}
    grid = load_grid(config, REPO)
    settings = grid.settings("it")
    assert settings["lr"] == 1e-4 and settings["lora"]["r"] == 4
    assert settings["lora"]["alpha"] == demo_config["training"]["sft"]["lora"]["alpha"]
    assert grid.settings("cpt-it")["lr"] == demo_config["training"]["sft"]["lr"]


def test_size_class_settings_sit_between_method_defaults_and_the_arm(demo_config):
    """`training.<method>.sizes.<size>` (e.g. QLoRA for large models) applies to that size class only."""
    config = copy.deepcopy(demo_config)
    config["models"]["qwen3-base"]["size"] = "large"
    config["training"]["sft"]["sizes"] = {"large": {"quantization": "nf4", "lr": 1e-4}}
    config["arms"]["it"]["settings"] = {"lr": 2e-4}
    grid = load_grid(config, REPO)
    assert grid.settings("it", "qwen3-base")["quantization"] == "nf4"
    assert grid.settings("it", "qwen3-base")["lr"] == 2e-4  # the arm wins
    assert grid.settings("cpt-it", "qwen3-base")["lr"] == 1e-4  # the size class beats the default
    assert "quantization" not in grid.settings("it", "llama-base") and "sizes" not in grid.settings("it")


def test_cells_cover_every_evaluated_subtask(demo_config):
    grid = load_grid(demo_config, REPO)
    cells = grid.cells()
    assert len(cells) == len(set(cells)) == 15
    assert ("demo-ner", "it", "drug") in cells and not any(c[0] == "demo-general" for c in cells)
    assert grid.loglik_cells() == [
        (d, lang, "mcq") for d in ("demo-mcq", "demo-general") for lang in ("en", "it", "es")
    ]


def test_thesis_grid_is_twelve_models_over_table_one(tmp_path):
    config = yaml.safe_load((REPO / "config" / "thesis.yaml").read_text())
    public = load_grid(config, REPO, workdir=tmp_path)  # no restricted set placed: the 33 public cells
    assert len(public.models) == 12 and len(public.cells()) == 33 and len(public.registry) == 16
    assert {config["models"][m]["size"] for m in public.models} == {"small", "large"}
    for source in public.sources.values():  # every restricted set placed: all of Table 1
        if source.restricted:
            (tmp_path / source.folder).mkdir(parents=True)
            for lang in ("en", "it", "es"):
                (tmp_path / source.folder / lang).mkdir()
                (tmp_path / source.folder / lang / "placed.txt").write_text("x")
    full = load_grid(config, REPO, workdir=tmp_path)
    assert len(full.cells()) == 63 and not full.unavailable


def test_thesis_rot_has_a_data_size_ablation_like_it():
    """Sub-RQ2 covers RoT: rot-n* arms differ from rot only in the mix's example cap."""
    config = yaml.safe_load((REPO / "config" / "thesis.yaml").read_text())
    rot_sizes = {
        name: config["mixes"][arm["mix"]]["settings"].get("max_examples")
        for name, arm in config["arms"].items()
        if arm.get("mix", "").startswith("rot")
    }
    assert rot_sizes == {"rot": None, "rot-n1000": 1000, "rot-n5000": 5000}
    traces = {tuple(config["mixes"][m]["traces"]) for m in ("rot", "rot-n1000", "rot-n5000")}
    assert len(traces) == 1 and all(config["arms"][a]["eval_style"] == "reasoning" for a in rot_sizes)
    from pipeline.report.arms import profiles, size_families

    families = size_families(profiles(load_grid(config, REPO), {}))
    assert [p.arm for p in families["rot"]] == ["rot-n1000", "rot-n5000", "rot"]
    assert [p.arm for p in families["it"]] == ["it-n100", "it-n1000", "it"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["arms"]["it"].update(parent="nope"), "arms.it.parent: unknown arm 'nope'"),
        (lambda c: c["arms"]["it"].update(mix="nope"), "arms.it.mix: unknown mix 'nope'"),
        (lambda c: c["arms"]["cpt"].update(corpus="nope"), "arms.cpt.corpus: unknown corpus"),
        (lambda c: c["arms"]["cpt"].update(parent="cpt-it"), "parent chain does not reach 'base'"),
        (lambda c: c["arms"].update(other={"method": "none"}), "reserved for the arm named 'base'"),
        (lambda c: c["loglik"].update(datasets=["demo-ner"]), "not qa"),
        (lambda c: c.update(registry="config/datasets/missing.yaml"), "no dataset registry"),
        (
            lambda c: c["arms"].update(x={"method": "checkpoint", "parent": "cpt", "step": 7}),
            "is not among the steps",
        ),
        (
            lambda c: c["arms"].update(x={"method": "checkpoint", "parent": "it", "step": 10}),
            "parent must be a cpt arm",
        ),
        (lambda c: c.update(stability={"datasets": ["demo-ner"]}), "stability.datasets: 'demo-ner' is a ner"),
        (
            lambda c: c.update(stability={"datasets": ["demo-mcq"], "arms": ["nope"]}),
            "stability.arms: unknown",
        ),
    ],
)
def test_bad_grids_name_the_key(demo_config, edit, message):
    config = copy.deepcopy(demo_config)
    edit(config)
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        grid = load_grid(config, REPO)
        grid.loglik_cells(), grid.stability_cells()


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 3}})
    assert merged == {"a": {"b": 3, "c": 2}} and base == {"a": {"b": 1, "c": 2}}


@pytest.mark.parametrize(
    ("training", "step", "message"),
    [
        (
            {"max_steps": 30, "save_steps": 10, "keep_checkpoints": "all"},
            40,
            "run never exports step 40: the run ends at step 30",
        ),
        ({"max_steps": 30, "save_steps": 10, "keep_checkpoints": "all"}, 15, "exports every 10 steps"),
        ({"max_steps": 30, "save_steps": None, "keep_checkpoints": "all"}, 5, "exports every 3 steps"),
        (
            {"max_steps": None, "epochs": 1, "save_steps": 10, "keep_checkpoints": "all"},
            15,
            "exports every 10 steps",
        ),
        ({"max_steps": 30, "keep_checkpoints": [10, 40]}, 40, "the run ends at step 30"),
    ],
)
def test_checkpoint_arms_must_be_reachable_at_dag_time(demo_config, training, step, message):
    config = copy.deepcopy(demo_config)
    config["training"]["cpt"].update(training)
    config["arms"]["x"] = {"method": "checkpoint", "parent": "cpt", "step": step}
    with pytest.raises(ValueError, match=f"arms\\.x\\.step: .*{message}"):
        load_grid(config, REPO)


def test_reachable_checkpoint_arms_and_what_the_cpt_job_is_told(demo_config):
    config = copy.deepcopy(demo_config)
    config["training"]["cpt"].update(max_steps=30, save_steps=10, keep_checkpoints="all")
    config["arms"].update(
        x={"method": "checkpoint", "parent": "cpt", "step": 20},
        y={"method": "checkpoint", "parent": "cpt", "step": 30},  # the last step is saved too
    )
    assert load_grid(config, REPO).checkpoint_steps("cpt") == [20, 30]
    config["training"]["cpt"].update(max_steps=None, epochs=1, save_steps=None)
    assert load_grid(config, REPO).checkpoint_steps("cpt") == [20, 30]  # left to the CPT job's check


def test_partages_preset_reaches_its_checkpoints_on_the_papers_schedule():
    """The paper reports 4,320 steps with a checkpoint every 720; the merge needs step 1440."""
    grid = load_grid(study_config("partages"), REPO)
    for model in grid.models:
        settings = grid.settings("pdapt", model)
        assert settings["max_steps"] == 4320 and settings["save_steps"] == 720
    assert grid.checkpoint_steps("pdapt") == [720, 1440, 2160, 2880, 3600]
    assert grid.arms["pdapt-slerp"].parent == "pdapt@step-1440"
