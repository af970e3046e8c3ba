"""Training throughput: our CPT and SFT stages against a bare Hugging Face Trainer / TRL SFTTrainer.

    .venv/bin/python benchmarks/run.py --only training [--smoke]

Same random-weight model, same token blocks / SFT records, same steps, batch, optimiser and seed.
Two numbers per stage, both in tokens per CPU second (higher is better):

- the whole call (model load, data preparation, training, saving) — what a job costs;
- the steady state: the median over optimiser steps 2..N of each step's tokens per CPU second,
  which leaves out the fixed costs and isolates the per-step overhead (logging, callbacks). Both
  sides are timed by the same callback (`StepMarks`): the peers get it as a callback, our stages
  through the trainer they build.

Ours saves a resumable checkpoint, evaluates and publishes (CPT) or saves the adapter (SFT, with
`merge_adapter: false` so that both sides write the same adapter); the peers save the final model.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Measured, Row, Timer, bench_model, child_main, compare, interleaved, memory_row, sentences

BENCHMARK = "training"
DEEPSPEED_CONFIGS = Path(__file__).resolve().parents[1] / "config" / "deepspeed"
LR = 1e-4
LORA = {"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"}


def sizes(smoke: bool) -> dict[str, int]:
    if smoke:
        return dict(block_size=32, batch=4, accumulation=2, steps=4, records=64, repeats=1)
    return dict(block_size=128, batch=4, accumulation=2, steps=10, records=200, repeats=2)


def write_blocks(model: Path, path: Path, block_size: int, n_blocks: int) -> None:
    """A blocks parquet as the corpus stage writes it: 1 in 10 blocks is validation."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    ids: list[int] = []
    for seed in itertools.count():
        if len(ids) >= block_size * n_blocks:
            break
        for text in sentences(200, seed=seed):
            ids += [*tokenizer(text)["input_ids"], tokenizer.eos_token_id]
    blocks = [ids[i * block_size : (i + 1) * block_size] for i in range(n_blocks)]
    table = pa.table(
        {
            "input_ids": pa.array(blocks, pa.list_(pa.int32())),
            "source": ["bench"] * n_blocks,
            "split": ["validation" if i % 10 == 0 else "train" for i in range(n_blocks)],
        }
    )
    pq.write_table(table, path)


def write_mix(path: Path, n: int) -> None:
    """SFT mix records as the mix stage writes them: instruction -> JSON answer."""
    with path.open("w", encoding="utf-8") as f:
        for i, text in enumerate(sentences(n, seed=7)):
            record = {
                "id": f"bench-{i}",
                "prompt": f"Extract the clinical entities from the text.\n\nText: {text}",
                "completion": json.dumps({"entities": text.split()[1:3]}),
                "dataset": "bench",
                "task": "ner",
                "language": ("en", "it", "es")[i % 3],
                "subtask": "entity",
                "kind": "it",
            }
            f.write(json.dumps(record) + "\n")


def step_marks() -> Any:
    """A TrainerCallback that records (CPU time, tokens seen) at the end of every optimiser step."""
    from transformers import TrainerCallback

    class StepMarks(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[tuple[float, int]] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.marks.append((time.process_time(), state.num_input_tokens_seen))

        def steady_rate(self) -> float:
            """Median tokens per CPU second over steps 2..N (step 1 carries the warm-up)."""
            return statistics.median(
                (n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in itertools.pairwise(self.marks)
            )

    return StepMarks()


def preload(spec: dict[str, Any]) -> None:
    """Import what either side uses before its timer starts (transformers resolves names lazily)."""
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import polars  # noqa: F401
    import trl  # noqa: F401
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments  # noqa: F401

    if spec.get("zero_stage") is not None:
        import deepspeed  # noqa: F401


def cpt_settings(spec: dict[str, Any]) -> Any:
    from pipeline.train.cpt_settings import CptSettings

    return CptSettings(
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


def cpt_tokens(spec: dict[str, Any]) -> int:
    return spec["steps"] * spec["batch"] * spec["accumulation"] * spec["block_size"]


def cpt_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from pipeline.train import cpt

    preload(spec)
    marks = step_marks()
    cpt.fault_injection = lambda: [marks]  # the stage's hook for extra callbacks
    with tempfile.TemporaryDirectory(prefix="bench-cpt-") as tmp:
        run = Path(tmp)
        with Timer() as timer:
            cpt.train(
                Path(spec["model"]),
                Path(spec["blocks"]),
                run / "out",
                run / "state",
                run / "log.parquet",
                cpt_settings(spec),
            )
    return {**timer.result(cpt_tokens(spec)), "step_rate": marks.steady_rate()}


def single_rank_deepspeed() -> None:
    """Declare a world of one on a free port and start DeepSpeed's gloo backend (CPU)."""
    import os
    import socket

    import deepspeed

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(
        RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    deepspeed.init_distributed(dist_backend="gloo")


def cpt_peer(spec: dict[str, Any]) -> dict[str, Any]:
    """What a user writes without the pipeline: load, Trainer with the LM collator, train, save."""
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    preload(spec)
    zero = spec["zero_stage"]
    marks = step_marks()
    with tempfile.TemporaryDirectory(prefix="bench-cpt-peer-") as tmp, Timer() as timer:
        if zero is not None:
            single_rank_deepspeed()
        tokenizer = AutoTokenizer.from_pretrained(spec["model"])
        model = AutoModelForCausalLM.from_pretrained(spec["model"], dtype=torch.float32)
        data = Dataset.from_parquet(spec["blocks"], cache_dir=f"{tmp}/cache")
        train_set = data.filter(lambda split: split == "train", input_columns="split")
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
            deepspeed=str(DEEPSPEED_CONFIGS / f"zero{zero}.json") if zero else None,
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_set.select_columns(["input_ids"]),
            data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
            callbacks=[marks],
        )
        trainer.train()
        trainer.save_model(f"{tmp}/out")
    return {**timer.result(cpt_tokens(spec)), "step_rate": marks.steady_rate()}


def sft_settings(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "lora": LORA,
        "lr": LR,
        "max_steps": spec["steps"],
        "per_device_batch_size": spec["batch"],
        "gradient_accumulation": 1,
        "max_length": 256,
        "gradient_checkpointing": False,
        "merge_adapter": False,
    }


def sft_ours(spec: dict[str, Any]) -> dict[str, Any]:
    from pipeline.train import sft
    from pipeline.train.settings import SftSettings

    preload(spec)
    marks = step_marks()
    build_trainer = sft.build_trainer

    def with_marks(*args: Any, **kwargs: Any) -> Any:
        trainer = build_trainer(*args, **kwargs)
        trainer.add_callback(marks)
        return trainer

    sft.build_trainer = with_marks
    with tempfile.TemporaryDirectory(prefix="bench-sft-") as tmp, Timer() as timer:
        settings = SftSettings.from_mapping(sft_settings(spec))
        sft.train(spec["model"], [spec["mix"]], f"{tmp}/out", f"{tmp}/log.parquet", settings)
    tokens = marks.marks[-1][1]
    return {**timer.result(tokens), "tokens": tokens, "step_rate": marks.steady_rate()}


def sft_peer(spec: dict[str, Any]) -> dict[str, Any]:
    """TRL as its documentation shows it: prompt/completion records, SFTConfig, a LoRA config."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    preload(spec)
    with open(spec["mix"], encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    marks = step_marks()
    with tempfile.TemporaryDirectory(prefix="bench-sft-peer-") as tmp, Timer() as timer:
        tokenizer = AutoTokenizer.from_pretrained(spec["model"])
        data = Dataset.from_list(
            [{"prompt": f"{r['prompt']}\n\n### Answer:\n", "completion": r["completion"]} for r in records]
        )
        config = SFTConfig(
            output_dir=tmp,
            learning_rate=LR,
            max_steps=spec["steps"],
            per_device_train_batch_size=spec["batch"],
            max_length=sft_settings(spec)["max_length"],
            gradient_checkpointing=False,
            bf16=False,  # TRL defaults to bf16, which a CPU cannot run
            seed=0,
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            include_num_input_tokens_seen="non_padding",
        )
        lora = LoraConfig(
            r=LORA["r"],
            lora_alpha=LORA["alpha"],
            lora_dropout=LORA["dropout"],
            target_modules=LORA["target_modules"],
            task_type="CAUSAL_LM",
        )
        trainer = SFTTrainer(
            model=spec["model"],
            args=config,
            train_dataset=data,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[marks],
        )
        trainer.train()
        trainer.save_model(f"{tmp}/out")
    tokens = marks.marks[-1][1]
    return {**timer.result(tokens), "tokens": tokens, "step_rate": marks.steady_rate()}


def stage_rows(stage: str, ours: Measured, peer: Measured, peer_name: str, notes: str) -> list[Row]:
    steady = "median over optimiser steps 2..N; fixed costs excluded"
    extra = min(ours.values("cpu_s")) - min(peer.values("cpu_s"))
    notes = f"{notes}; CPU seconds per call, ours minus peer: {extra:+.2f}"
    return [
        compare(BENCHMARK, f"{stage}: whole call", ours, peer, "tokens/CPU s", peer_name, notes),
        compare(
            BENCHMARK,
            f"{stage}: steady-state step",
            ours,
            peer,
            "tokens/CPU s",
            peer_name,
            steady,
            "step_rate",
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
    cpt = {
        **{k: size[k] for k in ("block_size", "batch", "accumulation", "steps")},
        "model": str(model),
        "blocks": str(blocks),
    }
    sft = {"model": str(model), "mix": str(mix), "steps": size["steps"], "batch": 2 * size["batch"]}
    batch = size["batch"] * size["accumulation"]
    rows: list[Row] = []
    stages = [("CPT", None, "HF Trainer")]
    if not smoke:
        stages.append(("CPT ZeRO-2 (1 rank)", 2, "HF Trainer + DeepSpeed ZeRO-2"))
    for stage, zero, peer_name in stages:
        spec = {**cpt, "zero_stage": zero}
        m = interleaved(__file__, {"ours": ("cpt_ours", spec), "peer": ("cpt_peer", spec)}, size["repeats"])
        notes = (
            f"{size['steps']} steps of {batch} x {size['block_size']} tokens; ours also checkpoints, "
            f"evaluates {size['batch']} blocks and publishes"
        )
        rows += stage_rows(stage, m["ours"], m["peer"], peer_name, notes)
    m = interleaved(__file__, {"ours": ("sft_ours", sft), "peer": ("sft_peer", sft)}, size["repeats"])
    notes = f"LoRA r=16, {size['steps']} steps of {sft['batch']} records; tokens = non-padding tokens seen"
    rows += stage_rows("SFT (LoRA)", m["ours"], m["peer"], "TRL SFTTrainer", notes)
    return rows


if __name__ == "__main__":
    child_main({"cpt_ours": cpt_ours, "cpt_peer": cpt_peer, "sft_ours": sft_ours, "sft_peer": sft_peer})
