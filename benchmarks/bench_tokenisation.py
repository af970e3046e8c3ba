"""Tokenisation + chunking and the corpus stages, read from bench_corpus.py's report.

    .venv/bin/python benchmarks/run.py --only tokenisation [--smoke]

Runs benchmarks/bench_corpus.py (its own synthetic corpus at two sizes) with the report written
beside the suite's, and reads back: our `blocks.py` against a `datasets.map` tokenise +
group_texts pipeline and against `tokenizers` batch encoding alone (an upper bound that does no
chunking), in tokens/s; and each corpus stage's peak RSS at the larger corpus against the same
stage at a fifth of it (flat memory is the goal).
"""

from __future__ import annotations

from pathlib import Path

from common import Row
from scripts import number, run_script, table_after

BENCHMARK = "tokenisation"
SCRIPT = Path(__file__).resolve().parent / "bench_corpus.py"
# Words in the larger corpus (bench_corpus.py's own defaults, 50M and 1M with --smoke, take ~10
# min and ~25 s here).
WORDS = {False: 5_000_000, True: 300_000}


def run(smoke: bool, workdir: Path) -> list[Row]:
    results = workdir / "results"
    args = ["--smoke"] * smoke + ["--words", str(WORDS[smoke])]
    text = run_script(SCRIPT, results, args, "corpus-smoke.md" if smoke else "corpus.md")
    speed = {row[0]: number(row[2]) for row in table_after(text, "## Tokenisation + chunking")}
    stages = table_after(text, "## Stages at two corpus sizes")
    rows = [
        Row(
            BENCHMARK,
            "tokenise + chunk into blocks",
            speed["blocks.py"],
            speed["datasets.map"],
            "tokens/s",
            "higher",
            "datasets.map (tokenise, then group_texts)",
            "same corpus, tokenizer and block size",
        ),
        Row(
            BENCHMARK,
            "tokenise + chunk vs encoding alone",
            speed["blocks.py"],
            speed["tokenizers alone"],
            "tokens/s",
            "higher",
            "tokenizers encode_batch_fast alone",
            "upper bound: the peer does no chunking, no EOS, no writing",
        ),
    ]
    for stage, *cells in stages:
        small, large = number(cells[4]), number(cells[5])
        rows.append(
            Row(
                BENCHMARK,
                f"peak RSS: corpus {stage}, 5x corpus",
                large,
                small,
                "MiB",
                "lower",
                "the same stage on a fifth of the corpus",
                "VmHWM of the stage process and its largest worker",
            )
        )
    return rows
