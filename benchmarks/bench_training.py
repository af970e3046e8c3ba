"""Training throughput: our CPT and SFT stages against a bare Hugging Face Trainer / TRL SFTTrainer.

    .venv/bin/python benchmarks/run.py --only training [--smoke]

Same random-weight model, same token blocks / SFT records, same steps, batch, optimiser and seed.
Two numbers per stage, both in tokens/s (higher is better):

- the whole call (model load, data preparation, training, saving) — what a job costs;
- the steady state: the median over optimiser steps 2..N of each step's tokens/s, which leaves
  out the fixed costs and isolates the per-step overhead (logging, callbacks).

Ours saves a resumable checkpoint, evaluates and publishes (CPT) or saves the adapter (SFT,
`merge_adapter: false` so that both sides write the same adapter); the peers save the final model.
"""

from __future__ import annotations

import json
import math
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import Measured, Row, Timer, bench_model, child_main, compare, interleaved, memory_row, sentences

BENCHMARK = "training"
DEEPSPEED_CONFIGS = Path(__file__).resolve().parents[1] / "config" / "deepspeed"
LR = 1e-4


def sizes(smoke: bool) -> dict[str, int]:
    if smoke:
        return dict(block_size=32, batch=4, accumulation=2, cpt_steps=4, sft_steps=4, records=64, repeats=1)
    return dict(block_size=128, batch=4, accumulation=2, cpt_steps=10, sft_steps=10, records=200, repeats=2)


def write_blocks(model: Path, path: Path, block_size: int, n_blocks: int) -> None:
    """A blocks parquet as the corpus stage writes it: 1 in 10 blocks is validation."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    ids: list[int] = []
    seed = 0
    while len(ids) < block_size * n_blocks:
        for text in sentences(200, seed=seed):
            ids += [*tokenizer(text)["input_ids"], tokenizer.eos_token_id]
        seed += 1
    blocks = [ids[i * block_size : (i + 1) * block_size] for i in range(n_blocks)]
    pq.write_table(
        pa.table(
            {
                "input_ids": pa.array(blocks, pa.list_(pa.int32())),
                "source": ["bench"] * n_blocks,
                "split": ["validation" if i % 10 == 0 else "train" for i in range(n_blocks)],
            }
        ),
        path,
    )


def write_mix(path: Path, n: int) -> None:
    """SFT mix records as the mix stage writes them: instruction -> JSON answer."""
    texts = sentences(n, seed=7)
    with path.open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            words = text.split()
            record = {
                "id": f"bench-{i}",
                "prompt": f"Extract the clinical entities from the text.\n\nText: {text}",
                "completion": json.dumps({"entities": words[1:3]}),
                "dataset": "bench",
                "task": "ner",
                "language": ("en", "it", "es")[i % 3],
                "subtask": "entity",
                "kind": "it",
            }
            f.write(json.dumps(record) + "\n")


def step_callback() -> Any:
    """A TrainerCallback recording (time, tokens seen) after each optimiser step."""
    import time

    from transformers import TrainerCallback

    class Steps(TrainerCallback):
        marks: list[tuple[float, int]] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.marks.append((time.perf_counter(), state.num_input_tokens_seen))

    return Steps()


def steady_state(rates: list[float]) -> float:
    """Median tokens/s over the steps after the first (which carries the warm-up): robust to a
    step slowed by another job on the machine."""
    return statistics.median(rates[1:])


def marked_rates(marks: list[tuple[float, int]]) -> list[float]:
    """Per-step tokens/s from the (time, tokens seen) marks of `step_callback`; the first step has no
    mark before it and gets NaN, as it is dropped anyway."""
    return [math.nan] + [(n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in zip(marks, marks[1:], strict=False)]


def logged_rates(log: Path) -> list[float]:
    """Per-step tokens/s from our training log (its `tokens_per_second` column)."""
    import polars as pl

    rows = pl.read_parquet(log).filter(pl.col("loss").is_not_null()).sort("step")
    return rows["tokens_per_second"].to_list()


def cpt_ours(spec: dict[str, Any]) -> dict[str, Any]:
    import pipeline.train.cpt  # noqa: F401  (imports before the timer)
    from pipeline.train.cpt import train
    from pipeline.train.cpt_settings import CptSettings

    with tempfile.TemporaryDirectory(prefix="bench-cpt-") as tmp:
        run = Path(tmp)
        settings = CptSettings(
            lr=LR,
            lr_scheduler="constant",
            warmup_steps=0,
            effective_batch_size=spec["batch"] * spec["accumulation"],
            per_device_batch_size=spec["batch"],
            max_steps=spec["steps"],
            save_steps=spec["steps"],
            max_eval_blocks=spec["batch"],
            zero_stage=spec["zero_stage"],
            precision="fp32",
        )
        with Timer() as timer:
            train(Path(spec["model"]), Path(spec["blocks"]), run / "out", run / "state", run / "log.parquet", settings)
        tokens = spec["steps"] * spec["batch"] * spec["accumulation"] * spec["block_size"]
        return {
            "seconds": timer.seconds,
            "tokens_per_s": tokens / timer.seconds,
            "step_tokens_per_s": steady_state(logged_rates(run / "log.parquet")),
        }


def cpt_peer(spec: dict[str, Any]) -> dict[str, Any]:
    """What a user writes without the pipeline: load, Trainer with the LM collator, train, save."""
    import os

    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    if spec["zero_stage"] is not None:  # a world of one on a free port, gloo on CPU
        import socket

        import deepspeed

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        deepspeed.init_distributed(dist_backend="gloo")
    with tempfile.TemporaryDirectory(prefix="bench-cpt-peer-") as tmp:
        steps = step_callback()
        with Timer() as timer:
            tokenizer = AutoTokenizer.from_pretrained(spec["model"])
            model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
            data = Dataset.from_parquet(spec["blocks"], cache_dir=f"{tmp}/cache")
            train_set = data.filter(lambda split: split == "train", input_columns="split").select_columns(
                ["input_ids"]
            )
            args = TrainingArguments(
                output_dir=tmp,
                per_device_train_batch_size=spec["batch"],
                gradient_accumulation_steps=spec["accumulation"],
                max_steps=spec["steps"],
                learning_rate=LR,
                lr_scheduler_type="constant",
                seed=0,
                use_cpu=True,
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
                include_num_input_tokens_seen="all",
                deepspeed=str(DEEPSPEED_CONFIGS / f"zero{spec['zero_stage']}.json") if spec["zero_stage"] else None,
            )
            trainer = Trainer(
                model=model,
                args=args,
                train_dataset=train_set,
                data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
                callbacks=[steps],
            )
            trainer.train()
            trainer.save_model(f"{tmp}/out")
        tokens = spec["steps"] * spec["batch"] * spec["accumulation"] * spec["block_size"]
        return {
            "seconds": timer.seconds,
            "tokens_per_s": tokens / timer.seconds,
            "step_tokens_per_s": steady_state(marked_rates(steps.marks)),
        }


def sft_settings(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "lora": {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"},
        "lr": LR,
        "max_steps": spec["steps"],
        "per_device_batch_size": spec["batch"],
        "gradient_accumulation": 1,
        "max_length": 256,
        "gradient_checkpointing": False,
        "merge_adapter": False,
    }


def sft_ours(spec: dict[str, Any]) -> dict[str, Any]:
    import polars as pl

    import pipeline.train.sft  # noqa: F401  (imports before the timer)
    import trl  # noqa: F401
    from pipeline.train.sft import train

    with tempfile.TemporaryDirectory(prefix="bench-sft-") as tmp:
        with Timer() as timer:
            train(spec["model"], [spec["mix"]], f"{tmp}/out", f"{tmp}/log.parquet", sft_settings(spec))
        log = pl.read_parquet(f"{tmp}/log.parquet").filter(pl.col("loss").is_not_null())
        tokens = int(log["tokens_seen"].max())
        return {
            "seconds": timer.seconds,
            "tokens": tokens,
            "tokens_per_s": tokens / timer.seconds,
            "step_tokens_per_s": steady_state(logged_rates(Path(tmp) / "log.parquet")),
        }


def sft_peer(spec: dict[str, Any]) -> dict[str, Any]:
    """TRL as its documentation shows it: prompt/completion records, SFTConfig, a LoRA config."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    settings = sft_settings(spec)
    lora = settings["lora"]
    with open(spec["mix"], encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    with tempfile.TemporaryDirectory(prefix="bench-sft-peer-") as tmp:
        steps = step_callback()
        with Timer() as timer:
            tokenizer = AutoTokenizer.from_pretrained(spec["model"])
            data = Dataset.from_list(
                [{"prompt": f"{r['prompt']}\n\n### Answer:\n", "completion": r["completion"]} for r in records]
            )
            config = SFTConfig(
                output_dir=tmp,
                learning_rate=LR,
                max_steps=spec["steps"],
                per_device_train_batch_size=spec["batch"],
                max_length=settings["max_length"],
                gradient_checkpointing=False,
                bf16=False,  # TRL defaults to bf16, which a CPU cannot run
                seed=0,
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
                include_num_input_tokens_seen="non_padding",
            )
            trainer = SFTTrainer(
                model=spec["model"],
                args=config,
                train_dataset=data,
                processing_class=tokenizer,
                peft_config=LoraConfig(
                    r=lora["r"],
                    lora_alpha=lora["alpha"],
                    lora_dropout=lora["dropout"],
                    target_modules=lora["target_modules"],
                    task_type="CAUSAL_LM",
                ),
                callbacks=[steps],
            )
            trainer.train()
            trainer.save_model(f"{tmp}/out")
        tokens = trainer.state.num_input_tokens_seen
        return {
            "seconds": timer.seconds,
            "tokens": tokens,
            "tokens_per_s": tokens / timer.seconds,
            "step_tokens_per_s": steady_state(marked_rates(steps.marks)),
        }



def stage_rows(stage: str, ours: Measured, peer: Measured, peer_name: str, notes: str) -> list[Row]:
    return [
        compare(BENCHMARK, f"{stage}: whole call", ours, peer, "tokens_per_s", "tokens/s", "higher", peer_name, notes),
        compare(
            BENCHMARK,
            f"{stage}: steady-state step",
            ours,
            peer,
            "step_tokens_per_s",
            "tokens/s",
            "higher",
            peer_name,
            "median over optimiser steps 2..N; fixed costs excluded",
        ),
        memory_row(BENCHMARK, stage, ours, peer, peer_name),
    ]


def run(smoke: bool, workdir: Path) -> list[Row]:
    size = sizes(smoke)
    model = bench_model(workdir, smoke, "base")
    blocks = workdir / f"blocks-{size['block_size']}.parquet"
    if not blocks.is_file():
        write_blocks(model, blocks, size["block_size"], 10 * size["batch"] * size["accumulation"])
    mix = workdir / f"mix-{size['records']}.jsonl"
    write_mix(mix, size["records"])
    common = {k: size[k] for k in ("block_size", "batch", "accumulation")}
    cpt = {**common, "model": str(model), "blocks": str(blocks), "steps": size["cpt_steps"]}
    sft = {"model": str(model), "mix": str(mix), "steps": size["sft_steps"], "batch": 2 * size["batch"]}
    shape = f"{size['cpt_steps']} steps of {size['batch'] * size['accumulation']} x {size['block_size']} tokens"
    rows: list[Row] = []
    stages = [("CPT", None, "HF Trainer")]
    if not smoke:
        stages.append(("CPT ZeRO-2 (1 rank)", 2, "HF Trainer + DeepSpeed ZeRO-2"))
    for stage, zero, peer_name in stages:
        spec = {**cpt, "zero_stage": zero}
        m = interleaved(__file__, {"ours": ("cpt_ours", spec), "peer": ("cpt_peer", spec)}, size["repeats"])
        notes = f"{shape}; ours also checkpoints, evaluates {size['batch']} blocks and publishes"
        rows += stage_rows(stage, m["ours"], m["peer"], peer_name, notes)
    m = interleaved(__file__, {"ours": ("sft_ours", sft), "peer": ("sft_peer", sft)}, size["repeats"])
    notes = f"LoRA r=16, {size['sft_steps']} steps of {sft['batch']} records; tokens = non-padding tokens seen"
    rows += stage_rows("SFT (LoRA)", m["ours"], m["peer"], "TRL SFTTrainer", notes)
    return rows


if __name__ == "__main__":
    child_main({"cpt_ours": cpt_ours, "cpt_peer": cpt_peer, "sft_ours": sft_ours, "sft_peer": sft_peer})
