"""The README.md model card of a merged model."""

from __future__ import annotations

import json
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


def model_card(record: dict[str, Any], name: str) -> str:
    """Markdown naming what was merged, how, and with which parameters."""
    models = "\n".join(f"- `{m}`" for m in record["models"])
    settings = json.dumps(record["settings"], indent=2, ensure_ascii=False)
    return f"""---
library_name: transformers
tags:
- merge
- {record["method"]}
---
# {name}

A merge of language models made with medadapt's `pipeline.merge` stage.

- **Method:** `{record["method"]}`: {_DESCRIPTIONS[record["method"]]}.
- **Base model:** `{record["base"]}` (its config and tokenizer are used)
- **Merged with:**
{models}

## Settings

```json
{settings}
```

The value of every per-tensor parameter (`t`, `weight`, `density`) as resolved for
each tensor, after layer gradients and name filters, is in `merge_parameters.json`.
"""
