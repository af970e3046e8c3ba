"""The grid: arms, lineage, effective settings, cells."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from pipeline.grid import deep_merge, load_grid


@pytest.fixture(scope="module")
def demo_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_lineage_and_methods(demo_config):
    grid = load_grid(demo_config, REPO)
    assert grid.lineage("cpt-it") == ["base", "cpt", "cpt-it"]
    assert grid.lineage("cpt-slerp") == ["base", "cpt", "cpt-slerp"]
    assert set(grid.arms_with("sft")) == {"it", "cpt-it", "rot"}
    assert grid.arms["rot"].eval_style == "reasoning" and grid.arms["it"].eval_style == "json"
    assert grid.lineage("cpt@step-20") == ["base", "cpt", "cpt@step-20"]


def test_arm_settings_override_method_defaults(demo_config):
    config = copy.deepcopy(demo_config)
    config["arms"]["it"]["settings"] = {"lr": 1e-4, "lora": {"r": 4}}
    grid = load_grid(config, REPO)
    settings = grid.settings("it")
    assert settings["lr"] == 1e-4 and settings["lora"]["r"] == 4
    assert settings["lora"]["alpha"] == demo_config["training"]["sft"]["lora"]["alpha"]
    assert grid.settings("cpt-it")["lr"] == demo_config["training"]["sft"]["lr"]


def test_cells_cover_every_registry_subtask(demo_config):
    grid = load_grid(demo_config, REPO)
    cells = grid.cells()
    assert len(cells) == len(set(cells)) == 15
    assert ("demo-ner", "it", "drug") in cells
    assert grid.loglik_cells() == [("demo-mcq", lang, "mcq") for lang in ("en", "it", "es")]


def test_thesis_grid_is_twelve_models_over_table_one():
    config = yaml.safe_load((REPO / "config" / "thesis.yaml").read_text())
    grid = load_grid(config, REPO)
    assert len(grid.models) == 12 and len(grid.cells()) == 63
    assert {config["models"][m]["size"] for m in grid.models} == {"small", "large"}


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
        (lambda c: c["arms"]["cpt@step-20"].update(step=7), "is not among the steps arm 'cpt' keeps"),
        (lambda c: c["arms"]["cpt@step-20"].update(parent="it"), "parent must be a cpt arm"),
    ],
)
def test_bad_grids_name_the_key(demo_config, edit, message):
    config = copy.deepcopy(demo_config)
    edit(config)
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_grid(config, REPO).loglik_cells()


def test_deep_merge_does_not_mutate():
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"b": 3}})
    assert merged == {"a": {"b": 3, "c": 2}} and base == {"a": {"b": 1, "c": 2}}
