"""Completion parsing: CPU time per adversarial completion, and its growth with the length.

    .venv/bin/python benchmarks/run.py --only parsing [--smoke]

Ours: `pipeline.evaluate.parse.parse_completion` (NER, strict and lenient readings) on completions
a degenerate model writes — nested braces, unbalanced blocks, long unquoted words, many small
objects. Peer: `json_repair.loads` on the same text, what a user would reach for to read JSON out
of model output. The growth row is ours at 16 KB over ours at 4 KB (linear cost gives 4; the old
parser, which repaired up to 64 overlapping blocks of up to 20,000 characters, grew with the
square). Target: every 16 KB completion well under 100 ms. The parser is pure Python with no model
to load, so both sides run in this process (imports outside the timers), best of k CPU times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from common import Row

BENCHMARK = "parsing"
PEER = "json_repair.loads"


def adversarial(size: int) -> dict[str, str]:
    """Completions of about `size` characters that made the old parser slow."""
    return {
        "nested braces": ('{"a": ' * 12 + "x " * (size // 2))[:size] + "}" * 12,
        "many repairable blocks": ('{"entities": [fever, {"x": ' + "a " * 40 + "}]} ") * (size // 110),
        "unbalanced": "{" * 16 + "a" * size,
        "quoted keys": ('{"entities": [' + "'a', " * (size // 5))[:size],
    }


def cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    """Best CPU milliseconds of `repeats` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1000


def run(smoke: bool, workdir: Path) -> list[Row]:
    import json_repair

    from pipeline.evaluate.parse import parse_completion

    def ours(text: str) -> Callable[[], object]:
        return lambda: (parse_completion("ner", text), parse_completion("ner", text, mode="lenient"))

    size, repeats = (4_000, 2) if smoke else (16_000, 5)
    rows = []
    for name, text in adversarial(size).items():
        mine = cpu_ms(ours(text), repeats)
        peer = cpu_ms(lambda text=text: json_repair.loads(text), 1 if smoke else 2)
        rows.append(Row(BENCHMARK, f"{name}, {len(text) // 1000} KB", mine, peer, "CPU ms", "lower", PEER))
    small, large = adversarial(size // 4)["nested braces"], adversarial(size)["nested braces"]
    growth = cpu_ms(ours(large), repeats) / max(cpu_ms(ours(small), repeats), 1e-3)
    rows.append(
        Row(
            BENCHMARK,
            "growth, 4x the length",
            growth,
            4.0,
            "time ratio",
            "lower",
            "linear cost",
            notes="ours at the full length over ours at a quarter of it",
        )
    )
    return rows
