"""The IT arm learns something measurable on a tiny random model: more greedy outputs parse as JSON."""

from __future__ import annotations

import json
import random
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeline.models import chat
from pipeline.train import sft
from pipeline.train.settings import SftSettings

# Words the tiny tokenizer knows (conftest.TINY_TEXTS), so that prompts stay short.
DISEASES = ["fever", "chest pain", "cefalea", "febbre", "dolore", "aspirin"]
# The demo settings that make the IT arm learn the JSON layout in a few CPU minutes at most.
DEMO_SETTINGS = {
    "lr": 5e-3,
    "max_steps": 120,
    "per_device_batch_size": 8,
    "max_length": 256,
    "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
    "loss": "full",
    "gradient_checkpointing": False,
}


def disease_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        found = rng.sample(DISEASES, rng.randint(1, 2))
        records.append(
            {
                "id": f"s{seed}-{i}",
                "prompt": f"Extract the diseases as JSON.\nText: {' and '.join(found)}.",
                "completion": json.dumps({"entities": found}),
                "dataset": "synthetic",
                "task": "ner",
                "language": "en",
                "kind": "it",
            }
        )
    return records


def json_share(model_dir, prompts: list[str]) -> float:
    """Share of greedy completions that are one valid JSON value."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    valid = 0
    for prompt in prompts:
        ids = torch.tensor([chat.encode(tokenizer, chat.format_prompt(tokenizer, prompt))])
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=32, do_sample=False)
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        try:
            json.loads(text)
            valid += 1
        except json.JSONDecodeError:
            pass
    return valid / len(prompts)


@pytest.mark.e2e
def test_it_sft_raises_the_valid_json_share(tiny_model_factory, tmp_path):
    model_dir = tiny_model_factory("llama", "instruct")
    mix = tmp_path / "mix.jsonl"
    mix.write_text("".join(json.dumps(r) + "\n" for r in disease_records(200, seed=0)), encoding="utf-8")
    started = time.perf_counter()
    settings = SftSettings.from_mapping(DEMO_SETTINGS)
    sft.train(model_dir, [mix], tmp_path / "it", tmp_path / "log.parquet", settings)
    print(f"SFT took {time.perf_counter() - started:.1f} s")
    held_out = [r["prompt"] for r in disease_records(20, seed=1)]
    before, after = json_share(model_dir, held_out), json_share(tmp_path / "it", held_out)
    print(f"valid JSON share: untuned {before:.2f}, IT {after:.2f}")
    assert after > before
    assert after >= 0.5
