"""The merge section of a merged model's README.md card."""

from __future__ import annotations

from typing import Any

from pipeline.merge.methods import METHODS


def merge_details(record: dict[str, Any]) -> str:
    """The merge's own section of the model card (`pipeline.provenance` writes the rest)."""
    models = "\n".join(f"  - `{m}`" for m in record["models"])
    return f"""## Merge

- **Method:** `{record["method"]}`: {METHODS[record["method"]].description}.
- **Base model:** `{record["base"]}` (its config and tokenizer are used)
- **Merged with:**
{models}

The value of every per-tensor parameter (`t`, `weight`, `density`) as resolved for
each tensor, after layer gradients and name filters, is in `merge_parameters.json`."""
