"""vLLM against transformers on the real slice's prompts, greedy (run by benchmarks/gpu_check.sh on CUDA).

Both backends get the same token ids (SmolLM2-135M-Instruct's chat template, each style's stop
sequences). Greedy outputs must agree on at least 95 % of the prompts; the differing ones are listed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

AGREEMENT = 0.95


def real_slice_requests(limit_per_cell: int):
    """(cell, example) of the real preset's evaluated datasets, read from ../shared/data."""
    import yaml

    from pipeline.tasks.registry import load_examples, load_registry

    config = yaml.safe_load((REPO / "config" / "studies" / "real-smollm2.yaml").read_text())
    registry = load_registry(REPO / config["registry"])
    examples = []
    for name in config["evaluate_datasets"]:
        tests = [e for e in load_examples(name, registry[name], seed=config["seed"]) if e.split == "test"]
        by_cell: dict = {}
        for example in sorted(tests, key=lambda e: e.id):
            by_cell.setdefault(example.cell, []).append(example)
        examples += [e for cell in by_cell.values() for e in cell[:limit_per_cell]]
    return examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--per-cell", type=int, default=8)
    args = parser.parse_args()

    from conftest import SMOLLM2
    from pipeline.evaluate.backends import Decoding, TransformersBackend, VLLMBackend
    from pipeline.models.chat import encode, format_prompt, load_tokenizer
    from pipeline.models.fetch import fetch
    from pipeline.tasks.prompts import render, stop_sequences

    model = args.work / "smollm2"
    if not model.exists():
        fetch(SMOLLM2, "llama", "instruct", model, {}, downloads=args.work / "downloads")
    tokenizer = load_tokenizer(model)
    examples = real_slice_requests(args.per_cell)
    prompts = [encode(tokenizer, format_prompt(tokenizer, render(e, "json"))) for e in examples]
    decoding = Decoding(max_new_tokens=128).with_stop(stop_sequences("json"))
    ours = TransformersBackend(model, batch_size=16, device="cuda").generate(prompts, decoding)
    theirs = VLLMBackend(model).generate(prompts, decoding)
    differing = [
        {"id": e.id, "transformers": a.text, "vllm": b.text}
        for e, a, b in zip(examples, ours, theirs, strict=True)
        if a.text != b.text
    ]
    agreement = 1 - len(differing) / len(examples)
    report = {"prompts": len(examples), "agreement": agreement, "differing": differing}
    (args.work / "vllm_vs_transformers.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"vLLM vs transformers, greedy: {agreement:.1%} of {len(examples)} prompts agree")
    for row in differing:
        print(json.dumps(row, ensure_ascii=False))
    if agreement < AGREEMENT:
        raise SystemExit(f"agreement {agreement:.1%} < {AGREEMENT:.0%}")


if __name__ == "__main__":
    main()
