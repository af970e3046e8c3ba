"""SFT: mix reading and selection, settings, the pinned loss mask, QLoRA checks, output layout."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import polars as pl
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.models import chat
from pipeline.provenance import RUN_RECORD, code_state
from pipeline.train import finetune, qlora, sft
from pipeline.train.settings import LoraSettings, SftFilter, SftSettings

FAST = {"max_steps": 2, "per_device_batch_size": 2, "max_length": 128, "gradient_checkpointing": False}


def record(i: int, task: str = "ner", language: str = "en", kind: str = "it") -> dict:
    return {
        "id": f"r{i}",
        "prompt": f"Extract the diseases. Text: case {i} with fever",
        "completion": json.dumps({"entities": ["fever"]}),
        "dataset": "syn",
        "task": task,
        "language": language,
        "kind": kind,
    }


def write_mix(path, records) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_read_mix_names_file_and_line(tmp_path):
    good = json.dumps(record(0))
    path = tmp_path / "mix.jsonl"
    path.write_text(f"{good}\n\n{{broken\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mix.jsonl:3: invalid JSON"):
        sft.read_mix(path)
    missing = {k: v for k, v in record(1).items() if k != "completion"}
    path.write_text(f"{good}\n{json.dumps(missing)}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mix.jsonl:2: .*\['completion'\]"):
        sft.read_mix(path)
    path.write_text(json.dumps(record(2, kind="cpt")) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"mix.jsonl:1: key 'kind'"):
        sft.read_mix(path)


def test_report_to_is_off_by_default_and_checked():
    assert SftSettings().report_to == ()
    assert finetune.training_arguments(SftSettings(), "w")["report_to"] == "none"
    tensorboard = SftSettings.from_mapping({"report_to": ["tensorboard"]})
    assert finetune.training_arguments(tensorboard, "w")["report_to"] == ["tensorboard"]
    with pytest.raises(ValueError, match=r"sft settings.report_to: must be a list"):
        SftSettings.from_mapping({"report_to": "tensorboard"})


def test_settings_defaults_and_unknown_keys():
    settings = SftSettings.from_mapping({"lr": 1e-3, "lora": {"r": 4}, "filter": {"tasks": ["ner"]}})
    assert settings.lora == LoraSettings(r=4)
    assert settings.filter == SftFilter(tasks=("ner",))
    assert settings.loss == "full" and settings.merge_adapter is True
    config = qlora.lora_config(settings.lora)
    assert config.r == 4 and config.target_modules == "all-linear"
    listed = qlora.lora_config(LoraSettings.from_mapping({"target_modules": ["q_proj", "v_proj"]}))
    assert listed.target_modules == {"q_proj", "v_proj"}  # PEFT's own form of a list
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['learning_rate'\]"):
        SftSettings.from_mapping({"learning_rate": 1e-3})
    with pytest.raises(ValueError, match=r"sft settings.lora: unknown key\(s\) \['rank'\]"):
        SftSettings.from_mapping({"lora": {"rank": 8}})
    with pytest.raises(ValueError, match=r"settings.filter: unknown key\(s\) \['datasets'\]"):
        SftSettings.from_mapping({"filter": {"datasets": ["x"]}})
    with pytest.raises(ValueError, match=r"settings\.loss"):
        SftSettings.from_mapping({"loss": "assistant_only"})
    with pytest.raises(ValueError, match="max_steps"):
        SftSettings.from_mapping({"max_steps": 0})


def test_select_records_filters_and_subsamples_nested():
    records = [
        record(i, task=t, language=lang) for i, (t, lang) in enumerate([("ner", "en"), ("qa", "it")] * 20)
    ]
    only_it = sft.select_records(records, SftSettings(filter=SftFilter(languages=("it",))))
    assert {r["language"] for r in only_it} == {"it"} and len(only_it) == 20
    small = sft.select_records(records, SftSettings(max_examples_per_task=3))
    large = sft.select_records(records, SftSettings(max_examples_per_task=7))
    assert sorted(r["task"] for r in small) == ["ner"] * 3 + ["qa"] * 3
    assert {r["id"] for r in small} < {r["id"] for r in large}
    with pytest.raises(ValueError, match="no SFT records left"):
        sft.select_records(records, SftSettings(filter=SftFilter(tasks=("re",))))


@pytest.mark.parametrize("variant", ["instruct", "base"])
@pytest.mark.parametrize("loss", ["full", "completion_only"])
def test_collated_labels_mask_what_the_loss_setting_says(tiny_model_factory, tmp_path, variant, loss):
    model_dir = tiny_model_factory("llama", variant)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    records = [record(0), {**record(1), "prompt": "Short text: fever"}]
    settings = SftSettings.from_mapping({**FAST, "loss": loss})
    trainer = sft.build_trainer(model_dir, records, settings, str(tmp_path))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(records))])
    for row, r in enumerate(records):
        prompt_text, completion_text = chat.format_example(tokenizer, r["prompt"], r["completion"])
        n_prompt = len(chat.encode(tokenizer, prompt_text))
        n_total = n_prompt + len(chat.encode(tokenizer, completion_text))
        labels, ids = batch["labels"][row], batch["input_ids"][row]
        assert torch.equal(ids[:n_total], torch.tensor(chat.encode(tokenizer, prompt_text + completion_text)))
        assert (labels[n_total:] == -100).all(), "padding must be masked"
        first_trained = n_prompt if loss == "completion_only" else 0
        assert (labels[:first_trained] == -100).all()
        assert torch.equal(labels[first_trained:n_total], ids[first_trained:n_total])
    assert trainer.args.completion_only_loss is (loss == "completion_only")
    assert trainer.args.assistant_only_loss is False and trainer.args.packing is False


@pytest.mark.parametrize("loss", ["full", "completion_only"])
def test_plain_loss_equals_trls_fused_lm_head_loss(tiny_model_factory, tmp_path, loss):
    """The CPU trainer's loss (model forward on the collator's labels) is TRL's chunked-head loss."""
    model_dir = tiny_model_factory("qwen3", "instruct")
    records = [record(0), {**record(1), "prompt": "Short text: fever"}, record(2)]
    losses = {}
    for fused in (True, False):
        settings = SftSettings.from_mapping({**FAST, "loss": loss, "fused_lm_head": fused})
        trainer = sft.build_trainer(model_dir, records, settings, str(tmp_path / str(fused)))
        assert (type(trainer).__name__ == "SFTTrainer") is fused
        batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(records))])
        n_items = (batch["labels"][:, 1:] != -100).sum()
        trainer.model.train()
        value = trainer.compute_loss(trainer.model, batch, num_items_in_batch=n_items)
        value.backward()
        grads = [p.grad.clone() for p in trainer.model.parameters() if p.requires_grad]
        losses[fused] = (value.item(), grads)
    assert losses[True][0] == pytest.approx(losses[False][0], rel=1e-5)
    for fused_grad, plain_grad in zip(losses[True][1], losses[False][1], strict=True):
        torch.testing.assert_close(fused_grad, plain_grad, rtol=1e-4, atol=1e-6)
    assert not sft.use_fused_lm_head(None)  # no CUDA here: the plain loss


def test_nf4_config_and_cpu_refusal(tmp_path, monkeypatch):
    config = qlora.bnb_config("nf4")
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant and config.bnb_4bit_compute_dtype == torch.bfloat16
    assert qlora.bnb_config(None) is None
    with pytest.raises(ValueError, match="quantization"):
        qlora.require_quantization_support("int8")
    # It fails before anything is read or trained: the data path does not even exist.
    args = ("unused-model", [tmp_path / "missing.jsonl"], tmp_path / "out", tmp_path / "log.parquet")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        sft.train(*args, SftSettings(quantization="nf4"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(qlora.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RuntimeError, match="needs bitsandbytes"):
        sft.train(*args, SftSettings(quantization="nf4"))
    assert not (tmp_path / "out").exists()


def test_cli_merged_output_matches_the_adapter(tiny_model_factory, tmp_path, caplog):
    from peft import PeftModel

    model_dir = tiny_model_factory("gemma3", "base")
    mix = write_mix(tmp_path / "mix.jsonl", [record(i) for i in range(6)])
    out, log = tmp_path / "model", tmp_path / "log.parquet"
    settings = {**FAST, "lr": 1e-2, "lora": {"r": 4, "alpha": 8, "dropout": 0.0}}
    argv = ["--model", str(model_dir), "--data", mix, "--output", str(out), "--log", str(log)]
    with caplog.at_level("INFO", logger="pipeline.train.callbacks"):
        sft.main([*argv, "--settings", json.dumps(settings)])
    assert "training steps: 2/2 (100%)" in caplog.text  # the job log's progress line
    assert json.loads((out / "medadapt_model.json").read_text())["variant"] == "base"  # carried along
    adapter_config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == os.path.relpath(model_dir)  # no hub id: the path
    run = json.loads((out / RUN_RECORD).read_text())
    assert run["method"] == "sft" and run["code"] == code_state()
    assert run["inputs"]["data"]["sha256"] == hashlib.sha256(Path(mix).read_bytes()).hexdigest()
    assert run["settings"]["lr"] == 1e-2 and run["examples"] == {"joint": 6}
    assert (out / "README.md").read_text().startswith("---\nlibrary_name: transformers\n")
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), out / "adapter").eval()
    base = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    ids = torch.tensor([chat.encode(AutoTokenizer.from_pretrained(out), "<bos>Extract the diseases.")])
    with torch.no_grad():
        merged_logits, tuned_logits, base_logits = (m(ids).logits for m in (merged, tuned, base))
    assert torch.allclose(merged_logits, tuned_logits, atol=1e-4)
    assert not torch.allclose(merged_logits, base_logits, atol=1e-4), "training changed nothing"
    table = pl.read_parquet(log)
    assert table["step"].to_list() == [1, 2] and set(table["adapter"]) == {"joint"}
    assert (
        table.select("loss", "lr", "grad_norm", "tokens_per_second").null_count().sum_horizontal().item() == 0
    )


def test_per_task_adapters_without_merge(tiny_model_factory, tmp_path):
    model_dir = tiny_model_factory("qwen3", "instruct")
    records = [record(i, task=task) for i, task in enumerate(["ner", "qa", "ner", "qa"])]
    mix = write_mix(tmp_path / "mix.jsonl", records)
    out, log = tmp_path / "model", tmp_path / "log.parquet"
    settings = {**FAST, "max_steps": 1, "per_task_adapters": True, "merge_adapter": False}
    settings = SftSettings.from_mapping({**settings, "report_to": ["tensorboard"]})
    sft.train(model_dir, [mix], out, log, settings)
    assert len(list((out / "tensorboard").rglob("events.out.tfevents.*"))) == 2  # one run per adapter
    assert finetune.TENSORBOARD_ENV not in os.environ
    assert json.loads((out / "adapters.json").read_text()) == {"ner": "adapters/ner", "qa": "adapters/qa"}
    for task in ("ner", "qa"):
        adapter = out / "adapters" / task
        assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == (
            os.path.relpath(model_dir)
        )
        assert (adapter / "tokenizer.json").exists() and not (adapter / "model.safetensors").exists()
    assert (out / "tokenizer.json").exists()
    assert sorted(pl.read_parquet(log)["adapter"].to_list()) == ["ner", "qa"]
