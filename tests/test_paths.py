"""One rule for relative paths of a config or registry, in the dry run and in every job."""

from __future__ import annotations

from pathlib import Path

from pipeline.paths import CHECKOUT_ENV, checkout, is_produced, resolve

REPO = Path(__file__).resolve().parents[1]


def test_targets_stay_in_the_working_directory_inputs_resolve_against_the_checkout(monkeypatch):
    monkeypatch.delenv(CHECKOUT_ENV, raising=False)
    assert checkout() == REPO
    assert resolve("results/demo/ner") == Path("results/demo/ner") and is_produced("data/e3c/x")
    assert resolve("../shared/data/qa") == REPO / "../shared/data/qa"
    assert resolve("/abs/file") == Path("/abs/file")
    monkeypatch.setenv(CHECKOUT_ENV, "/moved/checkout")
    assert resolve("config/x.yaml") == Path("/moved/checkout/config/x.yaml")


def test_an_explicit_base_roots_every_relative_path():
    assert resolve("results/demo/ner", "/copy") == Path("/copy/results/demo/ner")
    assert resolve("../shared/data", "/copy") == Path("/copy/../shared/data")
