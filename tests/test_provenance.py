"""Provenance: run records and model cards of every model folder, adapters naming their base."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import polars as pl
import pytest
import yaml

from pipeline import cards, provenance, summary
from pipeline.io import write_json
from pipeline.models import fetch
from pipeline.provenance import CARD, RUN_RECORD, RunRecorder, model_card

ROOT = Path(__file__).resolve().parents[1]


def front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def git_head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_code_state_is_the_repository_commit(monkeypatch, tmp_path):
    state = provenance.code_state()
    assert state["commit"] == git_head() and isinstance(state["dirty"], bool)
    assert provenance.commit_label({"commit": "abc", "dirty": True}) == "abc-dirty"
    monkeypatch.setenv(provenance.COMMIT_ENV, "f00d")  # code shipped without .git
    assert provenance.code_state(tmp_path) == {"commit": "f00d", "dirty": None}


def test_config_hash_ignores_key_order_and_checksums_folders(tmp_path):
    assert provenance.config_hash({"a": 1, "b": [1, 2]}) == provenance.config_hash({"b": [1, 2], "a": 1})
    assert provenance.config_hash({"a": 1}) != provenance.config_hash({"a": 2})
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "x.txt").write_text("x")
    (tmp_path / "d" / "sub" / "y.txt").write_text("y")
    listing = "".join(
        f"{hashlib.sha256(text.encode()).hexdigest()}  {name}\n"
        for name, text in [("sub/y.txt", "y"), ("x.txt", "x")]
    )
    assert provenance.checksum(tmp_path / "d") == hashlib.sha256(listing.encode()).hexdigest()
    assert provenance.checksum(tmp_path / "d" / "x.txt") == hashlib.sha256(b"x").hexdigest()
    with pytest.raises(FileNotFoundError, match="nothing"):
        provenance.checksum(tmp_path / "nothing")


def hub_base(folder: Path) -> dict:
    folder.mkdir(parents=True)
    record = RunRecorder(
        "base", {}, base_model={"id": "Qwen/Qwen3-0.6B-Base", "revision": "c0ffee", "hub": True}
    )
    provenance.write_provenance(folder, record.record(folder))
    return json.loads((folder / RUN_RECORD).read_text())


def test_a_trained_folder_records_lineage_inputs_and_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = Path("results/models/qwen/base")
    base_record = hub_base(base)
    data = tmp_path / "mix.jsonl"
    data.write_text('{"a": 1}\n')
    out = Path("results/models/qwen/it")
    out.mkdir(parents=True)
    record = RunRecorder("sft", {"lr": 0.1}, {"data": data}, base).write(
        out, out, "## Extra\n\nkept", steps=3
    )
    assert record == json.loads((out / RUN_RECORD).read_text())
    assert record["name"] == "qwen/it" and record["steps"] == 3
    assert record["base_model"] == {"id": "Qwen/Qwen3-0.6B-Base", "revision": "c0ffee", "hub": True}
    assert record["parent"] == {"path": str(base), "run_id": base_record["run_id"]}
    assert record["inputs"]["data"]["sha256"] == hashlib.sha256(b'{"a": 1}\n').hexdigest()
    assert record["code"]["commit"] == git_head() and record["config_hash"] == provenance.config_hash(
        {"lr": 0.1}
    )
    assert {"python", "polars"} <= set(record["libraries"]) and record["wall_seconds"] >= 0
    card = (out / CARD).read_text()
    meta = front_matter(card)
    assert meta["base_model"] == "Qwen/Qwen3-0.6B-Base" and meta["base_model_relation"] == "finetune"
    assert meta["medadapt"]["base_model_revision"] == "c0ffee"
    assert meta["medadapt"]["code_commit"] == git_head() and "model-index" not in meta
    assert record["inputs"]["data"]["sha256"] in card and "## Extra" in card

    # After the summary: the card gains the evaluation rows, as a table and as the hub's model-index.
    rows = [
        {
            **{column: None for column in summary.COLUMNS},
            "model": "qwen",
            "arm": arm,
            "evaluation": "generate",
            "dataset": "demo-qa",
            "language": "en",
            "task": "qa",
            "subtask": "mcq",
            "metric": metric,
            "value": 0.625,
            "ci_low": 0.5,
            "ci_high": 0.75,
            "n": 40,
        }
        for arm in ("it", "base")
        for metric in ("accuracy", "parse_ok")
    ]
    summary.write_summary(rows, tmp_path / "summary.parquet")
    cards.main(["cards", str(out), "--summary", str(tmp_path / "summary.parquet"), "--output", "cards"])
    assert (out / CARD).read_text() == card  # the model folder is left as it is
    evaluated = Path("cards/qwen/it.md").read_text()
    cards.main(["card", str(out), "--summary", str(tmp_path / "summary.parquet")])
    card = (out / CARD).read_text()
    assert card == evaluated
    results = front_matter(card)["model-index"][0]["results"]
    assert [r["metrics"] for r in results] == [[{"type": "accuracy", "value": 0.625}]]  # main metric only
    assert "| generate | demo-qa | en | qa | mcq | accuracy | 0.6250 | [0.500, 0.750] | 40 |" in card
    assert "## Extra" in card


def test_adapters_name_the_hub_id_of_an_untouched_hub_base(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hub_base(Path("hub"))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    write_json(adapter / "adapter_config.json", {"base_model_name_or_path": "/abs/path", "r": 4})
    provenance.name_adapter_base(adapter, Path("hub"))
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config == {"base_model_name_or_path": "Qwen/Qwen3-0.6B-Base", "revision": "c0ffee", "r": 4}
    # A parent medadapt trained (no hub id) is named by its path under the working directory.
    trained = Path("results/models/qwen/cpt")
    trained.mkdir(parents=True)
    RunRecorder("cpt", {}, parent=Path("hub")).write(trained, trained)
    provenance.name_adapter_base(adapter, trained)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        trained
    )


def test_hub_download_records_its_revision_and_keeps_the_upstream_card(tmp_path):
    from test_model_sources import run_fetch

    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "hub" / "models--org--model" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / CARD).write_text("upstream card")
    out = tmp_path / "base"
    run_fetch(
        {"hub": "org/model", "revision": commit},
        out,
        {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")},
    )
    record = json.loads((out / RUN_RECORD).read_text())
    assert record["base_model"] == {"id": "org/model", "revision": commit, "hub": True}
    assert record["family"] == "llama" and (out / CARD).read_text() == "upstream card"


def test_a_linked_checkpoint_is_an_arm_with_its_cpt_lineage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hub_base(Path("base"))
    step = Path("results/models/m/cpt/checkpoints/step-2")
    step.mkdir(parents=True)
    (step / "config.json").write_text("{}")
    RunRecorder("cpt", {}, parent=Path("base")).write(step, step, step=2)
    assert json.loads((step / RUN_RECORD).read_text())["name"] == "m/cpt@step-2"
    out = Path("results/models/m/cpt@step-2")
    fetch.fetch(str(step), "qwen3", "base", out, {})
    record = json.loads((out / RUN_RECORD).read_text())
    assert record["method"] == "checkpoint" and record["base_model"]["id"] == "Qwen/Qwen3-0.6B-Base"
    assert record["parent"]["run_id"] == json.loads((step / RUN_RECORD).read_text())["run_id"]
    assert not (out / CARD).is_symlink() and front_matter((out / CARD).read_text())["tags"][1] == "checkpoint"


def test_summary_carries_run_config_and_commit_columns(tmp_path):
    run = summary.run_columns("h" * 64)
    commit = git_head()
    assert run["config_hash"] == "h" * 64 and run["commit"].removesuffix("-dirty") == commit
    assert run["run_id"] == provenance.config_hash({"config_hash": "h" * 64, "commit": run["commit"]})[:16]
    assert summary.run_columns("g" * 64)["run_id"] != run["run_id"]
    rows = [{**{c: None for c in summary.COLUMNS}, "model": "m", "value": 1.0, **run}]
    summary.write_summary(rows, tmp_path / "s.parquet")
    frame = pl.read_parquet(tmp_path / "s.parquet")
    assert frame.select("run_id", "config_hash", "commit").row(0) == (run["run_id"], "h" * 64, run["commit"])


def test_a_base_that_is_not_on_the_hub_is_not_named_as_the_cards_base_model(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    base = Path("base")
    base.mkdir()
    RunRecorder("base", {}, base_model={"id": "tiny:llama-base", "revision": None, "hub": False}).write(
        base, base
    )
    out = Path("m/it")
    out.mkdir(parents=True)
    meta = front_matter(model_card(RunRecorder("sft", {}, parent=base).record(out)))
    assert "base_model" not in meta and meta["medadapt"]["base_model"] == "tiny:llama-base"
