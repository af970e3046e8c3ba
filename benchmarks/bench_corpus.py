"""Corpus-processing throughput and peak memory on a synthetic corpus.

    .venv/bin/python benchmarks/bench_corpus.py [--smoke] [--words N] [--workers K]

Generates a synthetic multilingual-looking corpus (Zipf-distributed words, with URLs,
control characters, exact and near duplicates planted), runs clean -> build -> blocks as
the workflow does (one process per stage) at two sizes, and reports words/s and peak RSS
per stage: peak RSS must not grow with corpus size. It then compares tokenisation plus
chunking (blocks.py) with `tokenizers` batch encoding alone and with a `datasets.map`
implementation (tokenise, then group_texts as in the Hugging Face run_clm example).
Writes benchmarks/results/corpus.md (corpus-smoke.md with --smoke).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
EOS, PAD = "<|endoftext|>", "<|pad|>"
BLOCK_SIZE = 2048

# Run one stage's main() in this child and print its peak RSS in KiB: VmHWM of this process
# (reset by exec, unlike ru_maxrss, which inherits the forking parent's size) and the
# largest pool worker.
STAGE = (
    "import importlib, re, resource, sys; importlib.import_module(sys.argv[1]).main(sys.argv[2:]); "
    "hwm = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)); "
    "print('PEAK_RSS_KIB', max(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
)


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = (
        int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        // 1024**2
    )
    import datasets
    import tokenizers

    return (
        f"{cpu}, {os.cpu_count()} cores visible, {mem} GiB RAM, Python {platform.python_version()}, "
        f"tokenizers {tokenizers.__version__}, datasets {datasets.__version__}, load average "
        f"{os.getloadavg()[0]:.1f} at start (shared machine: timings are noisy)"
    )


def vocabulary(rng: np.random.Generator, size: int = 50_000) -> np.ndarray:
    """Pseudo-words from Latin-alphabet syllables, with a few accented letters."""
    syllables = np.array(
        [
            "pa",
            "zi",
            "en",
            "te",
            "do",
            "lo",
            "re",
            "fe",
            "bb",
            "ca",
            "rd",
            "io",
            "mi",
            "á",
            "è",
            "ti",
            "co",
            "na",
            "se",
            "um",
            "ol",
            "ia",
            "ne",
            "ro",
            "ma",
            "gi",
            "st",
            "ch",
        ]
    )
    lengths = rng.integers(1, 5, size)
    return np.array(["".join(rng.choice(syllables, n)) for n in lengths])


def write_synthetic(path: Path, words: int, seed: int) -> int:
    """Write a JSONL source of about `words` words; return the documents written."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary(rng)
    written, docs, previous = 0, 0, []
    with path.open("w", encoding="utf-8") as f:
        while written < words:
            n = int(rng.integers(100, 800))
            text = " ".join(vocab[np.minimum(rng.zipf(1.2, size=n) - 1, len(vocab) - 1)])
            kind = rng.random()
            if kind < 0.01 and previous:
                text = previous[-1]  # exact duplicate
            elif kind < 0.02 and previous:
                tokens = previous[-1].split()
                tokens[len(tokens) // 2] = "variante"
                text = " ".join(tokens)  # near duplicate
            elif kind < 0.05:
                text += " vedi https://example.org/page?id=1 \x07\u200b!!!!!"
            previous = [text]
            f.write(json.dumps({"id": f"d{docs}", "text": text}) + "\n")
            written += n
            docs += 1
    return docs


def train_tokenizer(sample: Path, out: Path) -> None:
    """A byte-level BPE tokenizer (16k vocabulary) trained on a sample of the corpus."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=16_000,
        special_tokens=[EOS, PAD],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    with sample.open(encoding="utf-8") as f:
        tok.train_from_iterator(
            (json.loads(line)["text"] for _, line in zip(range(3000), f, strict=False)), trainer=trainer
        )
    out.mkdir(parents=True, exist_ok=True)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps({"eos_token": EOS, "pad_token": PAD}))


def run_stage(module: str, args: list[str]) -> tuple[float, int]:
    """Run a stage CLI in a fresh process; return wall seconds and peak RSS in MiB."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", STAGE, module, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    if out.returncode:
        raise RuntimeError(f"{module} failed:\n{out.stderr[-3000:]}")
    peak = int(out.stdout.split("PEAK_RSS_KIB")[-1].split()[0])
    return time.perf_counter() - start, peak // 1024


def pipeline(tmp: Path, words: int, tokenizer: Path, workers: int) -> dict[str, dict[str, float]]:
    src = tmp / f"synthetic-{words}.jsonl"
    docs = write_synthetic(src, words, seed=words)
    source = json.dumps(
        {
            "name": "synthetic",
            "path": str(src),
            "format": "jsonl",
            "language": "it",
            "doc_type": "synthetic",
            "licence": "CC-BY-4.0",
        }
    )
    settings = json.dumps({"workers": workers})
    clean, corpus, blocks = (tmp / f"{name}-{words}.parquet" for name in ("clean", "corpus", "blocks"))
    stats = {}
    stages = [
        (
            "clean",
            "pipeline.corpus.clean",
            [
                "--source",
                source,
                "--settings",
                settings,
                "--output",
                str(clean),
                "--stats",
                str(tmp / "cs.json"),
            ],
        ),
        (
            "build",
            "pipeline.corpus.build",
            [
                "--inputs",
                str(clean),
                "--settings",
                settings,
                "--output",
                str(corpus),
                "--report",
                str(tmp / "r.json"),
            ],
        ),
        (
            "blocks",
            "pipeline.corpus.blocks",
            [
                "--corpus",
                str(corpus),
                "--tokenizer",
                str(tokenizer),
                "--settings",
                json.dumps({"block_size": BLOCK_SIZE}),
                "--output",
                str(blocks),
                "--stats",
                str(tmp / "b.json"),
            ],
        ),
    ]
    for name, module, args in stages:
        seconds, peak = run_stage(module, args)
        stats[name] = {"seconds": seconds, "peak_rss_mib": peak, "words_per_s": words / seconds}
    report = json.loads((tmp / "r.json").read_text())
    blocks_stats = json.loads((tmp / "b.json").read_text())
    stats["_counts"] = {
        "documents": docs,
        "exact": report["removed"]["exact_duplicates"],
        "near": report["removed"]["near_duplicates"],
        "tokens": blocks_stats["tokens"],
    }
    for path in (src, clean, blocks):
        path.unlink()
    return stats


def tokenisation(corpus: Path, tokenizer: Path, tmp: Path) -> dict[str, float]:
    """Tokens/s of blocks.py, of `tokenizers` batch encoding alone, and of a datasets.map pipeline."""
    import datasets
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    from pipeline.corpus.blocks import make_blocks
    from pipeline.corpus.settings import BlocksSettings

    texts = pq.read_table(corpus, columns=["text"]).column("text").to_pylist()
    tok = Tokenizer.from_file(str(tokenizer / "tokenizer.json"))
    start = time.perf_counter()
    tokens = 0
    for i in range(0, len(texts), 1000):
        tokens += sum(
            len(e.ids) for e in tok.encode_batch_fast(texts[i : i + 1000], add_special_tokens=False)
        )
    alone = time.perf_counter() - start

    start = time.perf_counter()
    make_blocks(corpus, tokenizer, BlocksSettings(block_size=BLOCK_SIZE), tmp / "cmp-blocks.parquet")
    ours = time.perf_counter() - start

    eos = tok.token_to_id(EOS)
    datasets.disable_progress_bars()
    start = time.perf_counter()
    ds = datasets.Dataset.from_parquet(str(corpus), columns=["text"], cache_dir=str(tmp / "hf-cache"))

    def encode(batch: dict) -> dict:
        return {
            "input_ids": [
                [*e.ids, eos] for e in tok.encode_batch_fast(batch["text"], add_special_tokens=False)
            ]
        }

    def group(batch: dict) -> dict:
        flat = [t for ids in batch["input_ids"] for t in ids]
        n = len(flat) // BLOCK_SIZE * BLOCK_SIZE
        return {"input_ids": [flat[i : i + BLOCK_SIZE] for i in range(0, n, BLOCK_SIZE)]}

    encoded = ds.map(encode, batched=True, batch_size=1000, remove_columns=["text"])
    grouped = encoded.map(group, batched=True, batch_size=1000)
    grouped.to_parquet(str(tmp / "cmp-hf.parquet"))
    hf = time.perf_counter() - start
    return {
        "tokens": tokens,
        "blocks.py": tokens / ours,
        "tokenizers alone": tokens / alone,
        "datasets.map": tokens / hf,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="1M words instead of 50M")
    parser.add_argument("--words", type=int, default=None, help="words in the large run (default 50M)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="clean/build worker processes"
    )
    args = parser.parse_args()
    large = args.words or (1_000_000 if args.smoke else 50_000_000)
    small = large // 5
    lines = ["# Corpus benchmark" + (" (smoke)" if args.smoke else ""), "", f"Machine: {machine()}", ""]
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as name:
        tmp = Path(name)
        sample = tmp / "sample.jsonl"
        write_synthetic(sample, 1_000_000, seed=1)
        train_tokenizer(sample, tmp / "tokenizer")
        runs = {n: pipeline(tmp, n, tmp / "tokenizer", args.workers) for n in (small, large)}
        comparison = tokenisation(tmp / f"corpus-{small}.parquet", tmp / "tokenizer", tmp)
    base = comparison["tokenizers alone"]
    lines += [
        f"## Tokenisation + chunking ({comparison['tokens']:,} tokens, block size {BLOCK_SIZE}, "
        f"corpus of {small:,} words)",
        "",
        "| implementation | ratio to `tokenizers` alone | tokens/s |",
        "|---|---:|---:|",
        *(
            f"| {k} | {comparison[k] / base:.2f} | {comparison[k]:,.0f} |"
            for k in ("blocks.py", "tokenizers alone", "datasets.map")
        ),
        "",
        f"## Stages at two corpus sizes (workers = {args.workers})",
        "",
        f"| stage | words/s ratio {large:,} / {small:,} | peak RSS ratio | words/s ({small:,}) "
        f"| words/s ({large:,}) | peak RSS MiB ({small:,}) | peak RSS MiB ({large:,}) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for stage in ("clean", "build", "blocks"):
        a, b = runs[small][stage], runs[large][stage]
        speed, rss = b["words_per_s"] / a["words_per_s"], b["peak_rss_mib"] / a["peak_rss_mib"]
        lines.append(
            f"| {stage} | {speed:.2f} | {rss:.2f} | {a['words_per_s']:,.0f} | {b['words_per_s']:,.0f} "
            f"| {a['peak_rss_mib']:,} | {b['peak_rss_mib']:,} |"
        )
    total = {n: n / sum(runs[n][s]["seconds"] for s in ("clean", "build", "blocks")) for n in runs}
    lines += [
        "",
        f"End to end: {total[small]:,.0f} words/s ({small:,} words), {total[large]:,.0f} words/s "
        f"({large:,} words).",
        "",
        "Counts: " + "; ".join(f"{n:,} words: {runs[n]['_counts']}" for n in runs),
        "",
    ]
    out = RESULTS / ("corpus-smoke.md" if args.smoke else "corpus.md")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
