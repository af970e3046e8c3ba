"""The merge section of a merged model's README.md card."""

from __future__ import annotations

from typing import Any

_DESCRIPTIONS = {
    "slerp": "spherical linear interpolation between the base (t = 0) and the other model (t = 1), "
    "tensor by tensor",
    "linear": "a weighted average of the models' tensors",
    "task_arithmetic": "the base plus the weighted sum of each model's difference from the base",
    "ties": "task arithmetic over magnitude-pruned differences, keeping per element only the "
    "differences whose sign agrees with the elected sign (TIES)",
    "dare_ties": "task arithmetic over randomly dropped and rescaled differences (DARE), "
    "with TIES sign election",
    "dare_linear": "task arithmetic over randomly dropped and rescaled differences (DARE)",
}


def merge_details(record: dict[str, Any]) -> str:
    """The merge's own section of the model card (`pipeline.provenance` writes the rest)."""
    models = "\n".join(f"  - `{m}`" for m in record["models"])
    return f"""## Merge

- **Method:** `{record["method"]}`: {_DESCRIPTIONS[record["method"]]}.
- **Base model:** `{record["base"]}` (its config and tokenizer are used)
- **Merged with:**
{models}

The value of every per-tensor parameter (`t`, `weight`, `density`) as resolved for
each tensor, after layer gradients and name filters, is in `merge_parameters.json`."""
