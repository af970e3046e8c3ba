"""The report on a synthetic grid: every section populated, missing arms said, numbers recomputable."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from conftest import paired_rows
from pipeline.evaluate.loglik_cells import score_rows as loglik_score_rows
from pipeline.evaluate.metrics import MAIN_METRIC
from pipeline.evaluate.settings import SummarySettings
from pipeline.evaluate.stats import cell_seed, estimate
from pipeline.io import write_json, write_jsonl
from pipeline.report.__main__ import main as report_main
from pipeline.report.build import build_report
from pipeline.report.document import Section, write_report
from pipeline.report.inputs import Inputs, load_summary, model_parameters, parse_grid
from pipeline.report.published import load_published
from pipeline.report.settings import resolve_settings
from pipeline.report.significance import ItemStore
from pipeline.report.tables import Score
from pipeline.summary import summary_rows, write_summary
from pipeline.tasks.mix import mix_stats
from pipeline.train.training_log import write_training_log

SAMPLES = 40
MODELS = {
    "llama-1b": {"family": "llama", "variant": "base", "size": "small", "source": "tiny"},
    "llama-1b-instruct": {"family": "llama", "variant": "instruct", "size": "small", "source": "tiny"},
    "llama-8b": {"family": "llama", "variant": "base", "size": "large", "source": "tiny"},
    "llama-8b-instruct": {"family": "llama", "variant": "instruct", "size": "large", "source": "tiny"},
    "qwen-1b": {"family": "qwen3", "variant": "base", "size": "small", "source": "tiny"},
    "qwen-8b": {"family": "qwen3", "variant": "base", "size": "large", "source": "tiny"},
}
ARMS = {
    "base": {"method": "none"},
    "it": {"method": "sft", "parent": "base", "mix": "it"},
    "cpt": {"method": "cpt", "parent": "base", "corpus": "joint"},
    "cpt-it": {"method": "sft", "parent": "cpt", "mix": "it"},
    "rot": {"method": "sft", "parent": "base", "mix": "rot", "eval_style": "reasoning"},
    "rot-answer": {"method": "sft", "parent": "base", "mix": "rot"},
    "it-en": {"method": "sft", "parent": "base", "mix": "it-en"},
    "it-it": {"method": "sft", "parent": "base", "mix": "it-it"},
    "it-n100": {"method": "sft", "parent": "base", "mix": "it-n100"},
    "cpt-25pct": {"method": "cpt", "parent": "base", "corpus": "joint", "settings": {"token_budget": 0.25}},
    "cpt-slerp": {"method": "merge", "parent": "cpt", "settings": {"method": "slerp", "t": 0.5}},
}
CHECKPOINTS = {f"cpt@step-{s}": {"method": "checkpoint", "parent": "cpt", "step": s} for s in (10, 20)}
MIXES = {
    "it": {"kind": "it", "settings": {}},
    "it-en": {"kind": "it", "settings": {"languages": ["en"]}},
    "it-it": {"kind": "it", "settings": {"languages": ["it"]}},
    "it-n100": {"kind": "it", "settings": {"max_examples_per_task": 100}},
    "rot": {"kind": "rot", "traces": ["tr"], "settings": {}},
}
CORPUS = {
    "sources": {
        lang: {"path": "p", "format": "jsonl", "language": lang, "doc_type": "case", "licence": None}
        for lang in ("en", "it", "es")
    },
    "corpora": {"joint": {"sources": ["en", "it", "es"], "licence_subset": "all"}},
}
GRID = {
    "models": MODELS,
    "arms": {**ARMS, **CHECKPOINTS},
    "mixes": MIXES,
    "corpus": CORPUS,
    "training": {"cpt": {"lr": 1e-4, "keep_checkpoints": [10, 20]}},
}
CELLS = [("d-ner", lang, "ner", sub) for lang in ("en", "it", "es") for sub in ("disease", "drug")] + [
    ("d-qa", lang, "qa", "mcq") for lang in ("en", "it", "es")
]
CELLS += [("d-re", lang, "re", "rel") for lang in ("en", "it")]
CELLS += [("d-arg", lang, "argmining", "claim_premise") for lang in ("en", "es")]
QUALITY = {"base": 0.2, "it": 0.6, "cpt": 0.3, "cpt-it": 0.7, "rot": 0.5, "rot-answer": 0.55, "it-en": 0.5}
QUALITY |= {"it-it": 0.5, "it-n100": 0.4, "cpt-25pct": 0.25, "cpt-slerp": 0.35, "cpt@step-10": 0.22}
QUALITY |= {"cpt@step-20": 0.27}
TASK_BONUS = {("rot", "qa"): 0.35, ("cpt", "re"): 0.55}
ITEMS = 24
LOGLIK_QUALITY = {"base": 0.5, "cpt": 1.0, "cpt@step-10": 0.5, "cpt-slerp": 0.0}  # medical items
STABILITY_SHIFT = {"cpt-it": 0.0, "cpt": -0.3}  # explain minus answer-only quality, k-shot stability cells


def _item_stats(task: str, quality: float, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    if task == "qa":
        return ["correct"], (rng.random((ITEMS, 1)) < quality).astype(float)
    gold = rng.integers(1, 4, ITEMS)
    tp = rng.binomial(gold, quality)
    pred = tp + rng.binomial(2, 1 - quality, ITEMS)
    return ["tp", "n_pred", "n_gold"], np.stack([tp, pred, gold], axis=1).astype(float)


def _score_rows(
    model: str, arm: str, cell: tuple[str, ...], rng: np.random.Generator, shift: float = 0.0
) -> list[dict[str, Any]]:
    dataset, language, task, subtask = cell
    size_bonus = 0.1 if MODELS[model]["size"] == "large" else 0.0
    quality = min(0.95, QUALITY[arm] + size_bonus + TASK_BONUS.get((arm, task), 0.0) + shift)
    fields, stats = _item_stats(task, quality, rng)
    ids = [f"{dataset}/{language}/{subtask}/{i:03d}" for i in range(ITEMS)]
    metrics = [MAIN_METRIC[task]] + (["f1_lenient"] if task == "ner" else [])
    style = "reasoning" if arm == "rot" else "json"
    rows = []
    for metric in metrics:
        est = estimate(metric, stats, SAMPLES, 0, 0.95)
        rows.append(
            {
                "model": model,
                "arm": arm,
                "dataset": dataset,
                "language": language,
                "task": task,
                "subtask": subtask,
                "metric": metric,
                "value": est.value,
                "n": est.n,
                "stderr": est.stderr,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "parse_failure_rate": 0.0,
                "decoding": {"max_new_tokens": 64, "temperature": 0.0, "style": style},
                "item_fields": fields,
                "items": [[i, *row] for i, row in zip(ids, stats.tolist(), strict=True)],
            }
        )
    return rows


def _safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))


def _mix_records(languages: tuple[str, ...], per_task: int) -> list[dict[str, Any]]:
    return [
        {
            "prompt": f"Find the entities in text {i} about {task}",
            "completion": f'{{"answer": "{i}"}}',
            "task": task,
            "language": lang,
            "dataset": f"d-{task}",
        }
        for task in ("ner", "qa", "re", "argmining")
        for lang in languages
        for i in range(per_task)
    ]


def _build(root: Path, models: dict, arms: list[str], side_files: bool) -> dict[str, Any]:
    """Score files, summary and (optionally) every side file of a grid under `root`; the CLI arguments."""
    rng = np.random.default_rng(7)
    score_files = []
    for model in models:
        for arm in arms:
            for cell in CELLS:
                path = root / "scores" / model / arm / cell[0] / cell[1] / f"{cell[3]}.json"
                write_json(path, _score_rows(model, arm, cell, rng))
                score_files.append(path)
    stability_files = []
    for model in models:
        for arm in [a for a in STABILITY_SHIFT if a in arms]:
            for cell in (c for c in CELLS if c[2] == "qa"):
                for style, shift in zip(
                    ("qa_answer_only", "qa_explain"), (0.0, STABILITY_SHIFT[arm]), strict=True
                ):
                    path = root / "stability" / model / arm / style / cell[0] / cell[1] / f"{cell[3]}.json"
                    write_json(
                        path, [{**r, "style": style} for r in _score_rows(model, arm, cell, rng, shift)]
                    )
                    stability_files.append(path)
    loglik_files = []
    for model in models:
        for arm in [a for a in LOGLIK_QUALITY if a in arms]:
            for dataset, language in (
                ("med-mcq", "en"),
                ("med-mcq", "fr"),
                ("gen-mcq", "en"),
                ("gen-mcq", "fr"),
            ):
                quality = LOGLIK_QUALITY[arm] if dataset == "med-mcq" else 0.5
                correct = (rng.random(ITEMS) < quality).astype(float).tolist()
                results = [{"id": f"q{i:03d}", "acc": c, "acc_norm": c} for i, c in enumerate(correct)]
                rows = loglik_score_rows(results, (dataset, language, "mcq"), {"model": model, "arm": arm}, 0)
                path = root / "loglik_scores" / model / arm / dataset / language / "mcq.json"
                write_json(path, rows)
                loglik_files.append(path)
    scores = {"generate": score_files, "stability": stability_files, "loglik": loglik_files}
    # Few replicates keep the fixture fast: tests are left uncorrected so that its marks follow
    # the paired bootstrap itself (the corrections are tested in test_summary.py).
    columns = {name: {k: v for k, v in model.items() if k != "source"} for name, model in models.items()}
    settings = SummarySettings.from_mapping(
        {"bootstrap_samples": SAMPLES, "correction": "none", "models": columns}
    )
    write_summary(summary_rows(scores, settings), root / "summary.parquet")
    args = {
        "summary": root / "summary.parquet",
        "scores_dir": root / "scores",
        "stability_dir": root / "stability",
    }
    if not side_files:
        return args
    for name, (langs, per_task) in {
        "it": (("en", "it", "es"), 30),
        "it-en": (("en",), 30),
        "it-it": (("it",), 30),
        "it-n100": (("en", "it", "es"), 10),
        "rot": (("en", "it", "es"), 20),
    }.items():
        write_json(root / "mixes" / f"{name}.stats.json", mix_stats(_mix_records(langs, per_task), "it"))
    for i, model in enumerate(models):
        write_json(
            root / "blocks" / model / "joint.stats.json",
            {
                "corpus": "joint",
                "tokenizer": model,
                "block_size": 128,
                "stride": 128,
                "documents": 90,
                "words": 15000,
                "tokens": 19000 + 100 * i,
                "tokens_per_word": (19000 + 100 * i) / 15000,
                "blocks": {"total": 148, "train": 133, "validation": 15},
            },
        )
        folder = root / "models" / model / "base"
        folder.mkdir(parents=True)
        if model == "llama-1b":
            _safetensors(folder / "model.safetensors", {"embed": [100, 16], "layer.w": [16, 48]})
        else:
            write_json(
                folder / "config.json",
                {
                    "hidden_size": 64,
                    "num_hidden_layers": 2,
                    "vocab_size": 1000,
                    "intermediate_size": 192,
                    "num_attention_heads": 4,
                    "num_key_value_heads": 2,
                    "tie_word_embeddings": True,
                },
            )
        for arm in arms:
            if ARMS.get(arm, {}).get("method") in ("sft", "cpt"):
                steps = {"cpt": 30, "it-n100": 4}.get(arm, 20)
                history = [
                    {
                        "step": s,
                        "loss": 5.0 - s / 10,
                        "learning_rate": 1e-4,
                        "grad_norm": 1.0,
                        "num_input_tokens_seen": 1000 * s + 7 * i,
                        "tokens_per_second": 500.0,
                        "elapsed": 2.0 * s,
                    }
                    for s in range(1, steps + 1)
                ]
                history += [{"step": s, "eval_loss": 5.2 - s / 12} for s in (steps // 2, steps)]
                write_training_log(history, root / "logs" / model / f"{arm}.parquet")
            write_json(
                root / "pred" / model / arm / "throughput.json",
                {
                    "model": model,
                    "arm": arm,
                    "backend": "transformers",
                    "prompts": 100,
                    "generated": 90,
                    "cached": 10,
                    "seconds": 12.5,
                    "prompts_per_second": 7.2,
                    "tokens_per_second": 300.0,
                    "prompt_tokens": 15000,
                    "completion_tokens": 4000,
                },
            )
            if arm in ("base", "it", "cpt"):
                records = [
                    {
                        "id": f"{s}-{j}",
                        "subject": s,
                        "gold": 0,
                        "acc": float(rng.random() < q),
                        "acc_norm": 0.0,
                    }
                    for s, q in (("anatomy", 0.3 + 0.2 * (arm == "cpt")), ("philosophy", 0.5))
                    for j in range(40)
                ]
                write_jsonl(root / "loglik" / model / arm / "mmlu.jsonl", records)
    bench = root / "bench" / "generate" / "llama-1b" / "it.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text("s\th:m:s\tmax_rss\tmax_vms\n12.5\t0:00:12\t2048.5\t4000\n")
    args |= {
        "mix_stats": sorted((root / "mixes").glob("*.json")),
        "block_stats": sorted((root / "blocks").glob("*/*.json")),
        "train_logs": sorted((root / "logs").glob("*/*.parquet")),
        "throughput": sorted((root / "pred").glob("*/*/throughput.json")),
        "benchmarks": [bench],
        "loglik": sorted((root / "loglik").glob("*/*/*.jsonl")),
        "model_dirs": sorted((root / "models").glob("*/base")),
        "published": [*sorted(PUBLISHED.glob("*.yaml")), _published_study(root)],
    }
    return args


PUBLISHED = Path(__file__).resolve().parents[1] / "config" / "studies" / "published"


def _published_study(root: Path) -> Path:
    """A published table over the synthetic log-likelihood cells: one row of ours, one of another model."""
    path = root / "published.yaml"
    column = {"evaluation": "loglik", "subject": "med_mcq", "language": "fr"}
    study = {
        "study": "Synthetic",
        "paper": "a test",
        "tables": [
            {
                "id": "table1",
                "caption": "Table 1: medical accuracy.",
                "where": "§1",
                "layout": "knowledge",
                "group": "medical",
                "language": "fr",
                "unit": "percent",
                "decimals": 1,
                "columns": [
                    {"name": "med", "printed": "Med. FR", "ours": column},
                    {"name": "x", "printed": "X"},
                ],
                "rows": [
                    {
                        "label": "Llama",
                        "model": "llama-1b",
                        "arm": "cpt",
                        "values": [61.5, 2.0],
                        "stderr": [1.1, 0.1],
                    },
                    {"label": "Other-7B", "model": "other-7b", "arm": None, "values": [40.0, None]},
                ],
            }
        ],
    }
    path.write_text(json.dumps(study), encoding="utf-8")
    return path


def _cli(args: dict[str, Any], grid: dict[str, Any], settings: dict[str, Any], output: Path) -> None:
    argv = ["--grid", json.dumps(grid), "--settings", json.dumps(settings), "--output", str(output)]
    argv += ["--config-hash", CONFIG_HASH]
    for key, value in args.items():
        flag = "--" + key.replace("_", "-")
        argv += [flag, *map(str, value)] if isinstance(value, list) else [flag, str(value)]
    report_main(argv)


SETTINGS = {
    "bootstrap_samples": SAMPLES,
    "seed": 3,
    "loglik_groups": {"medical": ["anatomy", "med_mcq"], "general": None},
}
CONFIG_HASH = "abc123"


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("full")
    args = _build(root, MODELS, [*ARMS, *CHECKPOINTS], side_files=True)
    _cli(args, GRID, SETTINGS, root / "report")
    return {
        "root": root,
        "args": args,
        "summary": load_summary(root / "summary.parquet"),
        "sections": {s.key: s for s in _api(args, GRID, SETTINGS)[0]},
    }


def _api(
    args: dict[str, Any], grid: dict[str, Any], settings: dict[str, Any]
) -> tuple[list[Section], list[str]]:
    from pipeline.report import inputs as i

    loaded = Inputs(
        summary=i.load_summary(args["summary"]),
        grid=parse_grid(json.dumps(grid)),
        scores_dir=args["scores_dir"],
        stability_dir=args.get("stability_dir"),
        mix_stats=i.load_mix_stats(args.get("mix_stats", [])),
        block_stats=i.load_block_stats(args.get("block_stats", [])),
        train_logs=i.load_train_logs(args.get("train_logs", [])),
        throughput=i.load_throughput(args.get("throughput", [])),
        benchmarks=i.load_benchmarks(args.get("benchmarks", [])),
        loglik=i.load_loglik(args.get("loglik", [])),
        parameters=i.load_parameters(args.get("model_dirs", []), list(grid["models"])),
        published=[load_published(p) for p in args.get("published", [])],
    )
    return build_report(loaded, settings, CONFIG_HASH)


def _table(section: Section, name: str):
    return next(a.table for a in section.artefacts if a.name == name)


def _main(summary: pl.DataFrame) -> pl.DataFrame:
    generated = summary.filter(pl.col("evaluation") == "generate")
    return generated.filter(pl.col("metric") == pl.col("task").replace_strict(MAIN_METRIC))


def _model_overall(summary: pl.DataFrame) -> pl.DataFrame:
    tasks = _main(summary).group_by("model", "arm", "task").agg(pl.col("value").mean())
    return tasks.group_by("model", "arm").agg(pl.col("value").mean())


def _value(cell: Any) -> float:
    return cell.value if isinstance(cell, Score) else cell


def populated(section: Any) -> bool:
    """A section with artefacts and nothing missing."""
    return section.missing is None and bool(section.artefacts)


def test_every_section_is_populated_and_written(full: dict[str, Any]) -> None:
    sections = full["sections"]
    expected = {
        "rq1",
        "averages",
        "rq2",
        "rq3",
        "rq4",
        "rq5",
        "cost",
        "training",
        "progression",
        "knowledge",
        "ranks",
        "tradeoff",
        "stability",
        "published",
    }
    assert set(sections) == expected
    assert [k for k, s in sections.items() if not populated(s)] == []
    out = full["root"] / "report"
    captions = json.loads((out / "captions.json").read_text())
    for section in sections.values():
        for a in section.artefacts:
            assert (out / a.filename).stat().st_size > 0
            assert (out / f"{a.name}.rst").read_text().strip()
            assert captions[a.filename] == a.caption
            if a.table is not None:
                assert a.table.rows, a.name
                assert (out / f"{a.name}.csv").exists()
    index = (out / "index.md").read_text()
    html = (out / "index.html").read_text()
    assert "Config hash: abc123." in index and "6 models × 13 arms × 13 cells" in index
    assert "Not in this grid" not in index
    for name in captions:
        assert f"({name})" in index and f'href="{name}"' in html


def test_arm_task_means_and_winners_recompute_from_the_summary(full: dict[str, Any]) -> None:
    table = _table(full["sections"]["rq1"], "rq1_arm_task")
    means = _main(full["summary"]).group_by("arm", "task").agg(pl.col("value").mean())
    rows = {row[0]: row for row in table.rows}
    assert set(rows) == set(ARMS)  # checkpoints go to the progression section
    for task in ("ner", "qa", "re", "argmining"):
        column = table.columns.index(task)
        expected = means.filter(pl.col("task") == task)
        for arm, row in rows.items():
            want = expected.filter(pl.col("arm") == arm).get_column("value")[0]
            assert row[column].value == pytest.approx(want)
            assert row[column].low < row[column].value < row[column].high
        winner = expected.filter(~pl.col("arm").str.contains("@")).sort("value", descending=True)["arm"][0]
        marked = [arm for arm, row in rows.items() if "◆" in row[column].marks]
        assert marked == [winner]
    winners = _table(full["sections"]["rq1"], "rq1_winners")
    pooled = [r for r in winners.rows if r[0] == "all models"]
    assert {r[1]: r[2] for r in pooled}["qa"] == "rot" and {r[1]: r[2] for r in pooled}["re"] == "cpt"
    assert all(r[3] >= r[5] for r in winners.rows)
    vs_base = _table(full["sections"]["rq1"], "rq1_vs_base")
    it_ner = next(r for r in vs_base.rows if r[:3] == ["all models", "ner", "it"])
    assert it_ner[3] == pytest.approx(
        rows["it"][table.columns.index("ner")].value - rows["base"][table.columns.index("ner")].value
    )
    assert it_ner[-1] is True and "▲" in rows["it"][table.columns.index("ner")].marks


def test_one_cell_task_test_equals_the_paired_test_of_its_rows(full: dict[str, Any]) -> None:
    root = full["root"]
    cell = ("d-qa", "en", "qa", "mcq")
    store = ItemStore(root / "scores", SAMPLES, 3)
    got = store.test(["llama-1b"], "rot", "base", [cell], 0.95)
    rows = [
        json.loads((root / "scores" / "llama-1b" / a / "d-qa/en/mcq.json").read_text())[0]
        for a in ("rot", "base")
    ]
    want = paired_rows(rows[0], rows[1], SAMPLES, cell_seed(3, cell), 0.95)
    assert (got.delta, got.ci_low, got.ci_high, got.p_value) == pytest.approx(
        (want.delta, want.ci_low, want.ci_high, want.p_value)
    )


def test_averages_follow_the_thesis_hierarchy(full: dict[str, Any]) -> None:
    table = _table(full["sections"]["averages"], "averages_by_model")
    row = next(r for r in table.rows if r[:2] == ["qwen-8b", "cpt-it"])
    main = _main(full["summary"]).filter((pl.col("model") == "qwen-8b") & (pl.col("arm") == "cpt-it"))
    it_lang = main.filter(pl.col("language") == "it").group_by("task").agg(pl.col("value").mean())
    assert row[table.columns.index("lang it")] == pytest.approx(it_lang["value"].mean())
    overall = main.group_by("task").agg(pl.col("value").mean())["value"].mean()
    assert row[table.columns.index("overall")] == pytest.approx(overall)
    assert len(table.rows) == len(MODELS) * (len(ARMS) + len(CHECKPOINTS))


def test_relative_improvement_small_vs_large(full: dict[str, Any]) -> None:
    table = _table(full["sections"]["rq4"], "rq4_model_size")
    overall = _model_overall(full["summary"])

    def score(model: str, arm: str) -> float:
        return overall.filter((pl.col("model") == model) & (pl.col("arm") == arm))["value"][0]

    row = next(r for r in table.rows if r[:4] == ["qwen3", "base", "it", "overall"])
    c = table.columns
    assert row[c.index("small model")] == "qwen-1b" and row[c.index("large model")] == "qwen-8b"
    want = (score("qwen-8b", "it") - score("qwen-8b", "base")) / score("qwen-8b", "base")
    assert row[c.index("large rel. impr.")] == pytest.approx(want)
    families = {(r[0], r[1]) for r in table.rows}
    assert families == {("llama", "base"), ("llama", "instruct"), ("qwen3", "base")}


def test_data_size_language_and_cost_tables(full: dict[str, Any]) -> None:
    s = full["sections"]
    size = _table(s["rq2"], "rq2_data_size")
    assert {r[0] for r in size.rows} == {"cpt", "it"}
    n100 = next(r for r in size.rows if r[1:3] == ["llama-8b", "it-n100"])
    assert n100[3] == "max_examples_per_task=100" and n100[4] == 120 and n100[5] == 4000 + 7 * 2
    single = _table(s["rq5"], "rq5_single_vs_joint")
    row = next(r for r in single.rows if r[1:4] == ["llama-1b", "it", "it-it"])
    main = _main(full["summary"]).filter((pl.col("model") == "llama-1b") & (pl.col("language") == "it"))

    def lang_score(arm: str) -> float:
        return main.filter(pl.col("arm") == arm).group_by("task").agg(pl.col("value").mean())["value"].mean()

    assert row[4] == pytest.approx(lang_score("it-it")) and row[5] == "it"
    assert row[7] == pytest.approx(lang_score("it-it") - lang_score("it"))
    transfer = _table(s["rq5"], "rq5_transfer_it")
    assert [r[0] for r in transfer.rows] == ["it-en (en)", "it-it (it)", "it (joint)", "base (none)"]
    cost = _table(s["cost"], "cost")
    c = cost.columns
    cpt = next(r for r in cost.rows if r[:2] == ["llama-1b", "cpt"])
    n = 100 * 16 + 16 * 48
    assert cpt[c.index("parameters")] == n and cpt[c.index("training tokens")] == 30000
    assert cpt[c.index("training FLOPs")] == 6.0 * n * 30000
    cpt_it = next(r for r in cost.rows if r[:2] == ["llama-1b", "cpt-it"])
    assert cpt_it[c.index("cumulative training FLOPs")] == 6.0 * n * (30000 + 20000)
    assert cpt_it[c.index("generation FLOPs")] == 2.0 * n * 19000
    bench = next(r for r in cost.rows if r[:2] == ["llama-1b", "it"])
    assert bench[c.index("benchmark seconds")] == 12.5 and bench[c.index("max RSS (MB)")] == 2048.5
    mixes = _table(s["rq3"], "rq3_mix_stats")
    assert {r[0]: r[3] for r in mixes.rows}["it-en"] == 120


def test_progression_ranks_tradeoff_and_stability(full: dict[str, Any]) -> None:
    s = full["sections"]
    prog = _table(s["progression"], "progression")
    llama = [(r[1], r[2], r[3]) for r in prog.rows if r[0] == "llama-1b"]
    assert llama == [
        ("base", "base", 0),
        ("cpt@step-10", "checkpoint", 10),
        ("cpt@step-20", "checkpoint", 20),
        ("cpt", "final", 30),
        ("cpt-slerp", "merge", 30),
    ]
    ranks = _table(s["ranks"], "average_rank")
    # Log-likelihood scores exist for some arms only: every arm is ranked over the same columns.
    assert ranks.columns[4:] == [f"rank {t}" for t in sorted(_main(full["summary"])["task"].unique())]
    assert all(cell is not None for row in ranks.rows for cell in row[4:])
    assert "Left out of the ranks, as not every model × arm has them: medical, general" in " ".join(
        s["ranks"].text
    )
    tasks = _main(full["summary"]).group_by("model", "arm", "task").agg(pl.col("value").mean())
    ner = tasks.filter(pl.col("task") == "ner").with_columns(pl.col("value").rank("average", descending=True))
    top = ranks.rows[0]
    want = ner.filter((pl.col("model") == top[1]) & (pl.col("arm") == top[2]))["value"][0]
    assert top[ranks.columns.index("rank ner")] == want
    assert [r[3] for r in ranks.rows] == sorted(r[3] for r in ranks.rows)
    trade = _table(s["tradeoff"], "tradeoff")
    cpt = next(r for r in trade.rows if r[:2] == ["qwen-1b", "cpt"])
    base = next(r for r in trade.rows if r[:2] == ["qwen-1b", "base"])
    assert cpt[4] == pytest.approx(cpt[2] - base[2])
    stab = _table(s["stability"], "stability")
    row = next(r for r in stab.rows if r[0] == "llama-8b" and r[10] == "arms' eval styles")
    qa = _main(full["summary"]).filter((pl.col("task") == "qa") & (pl.col("model") == "llama-8b"))
    acc = {a: qa.filter(pl.col("arm") == a)["value"].mean() for a in ("rot-answer", "rot")}
    assert row[1:3] == ["rot-answer", "rot"] and row[6] == pytest.approx(acc["rot-answer"] - acc["rot"])
    assert row[8] is not None and row[10] == "arms' eval styles"
    summary = full["summary"]
    stab_rows = summary.filter((pl.col("evaluation") == "stability") & (pl.col("model") == "llama-8b"))
    for arm in STABILITY_SHIFT:
        row = next(r for r in stab.rows if r[0] == "llama-8b" and r[1] == f"{arm}/qa_answer_only")
        mine = stab_rows.filter((pl.col("arm") == arm) & (pl.col("metric") == "accuracy"))
        acc = {s: mine.filter(pl.col("style") == s)["value"].mean() for s in ("qa_answer_only", "qa_explain")}
        assert row[2] == f"{arm}/qa_explain" and row[10] == "k-shot prompts"
        assert row[6] == pytest.approx(acc["qa_answer_only"] - acc["qa_explain"])
        assert row[9] is (arm == "cpt")  # a 0.3 drop on 72 items is significant, none is not


def test_missing_arms_and_inputs_are_said(tmp_path: Path) -> None:
    models = {"llama-1b": MODELS["llama-1b"]}
    grid = {"models": models, "arms": {"base": ARMS["base"], "it": ARMS["it"]}, "mixes": {"it": MIXES["it"]}}
    args = _build(tmp_path, models, ["base", "it"], side_files=False)
    _cli(args, grid, {"bootstrap_samples": SAMPLES}, tmp_path / "report")
    sections = {s.key: s for s in _api(args, grid, {"bootstrap_samples": SAMPLES})[0]}
    missing = {k for k, s in sections.items() if s.missing}
    assert missing == {
        "rq2",
        "rq3",
        "rq4",
        "rq5",
        "cost",
        "training",
        "progression",
        "tradeoff",
        "stability",
        "published",
    }
    assert all(populated(sections[k]) for k in ("rq1", "averages", "ranks"))
    index = (tmp_path / "report" / "index.md").read_text()
    for key in missing:
        assert sections[key].missing in index
        assert sections[key].missing.count(".") >= 1 and not sections[key].artefacts


def test_output_is_deterministic(full: dict[str, Any], tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_report(*_api(full["args"], GRID, SETTINGS), tmp_path / name)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (full["root"] / "report").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_bad_input_raises_naming_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"report settings: unknown key\(s\) \['sed'\]"):
        resolve_settings({"sed": 1})
    with pytest.raises(ValueError, match=r"report settings\.loglik_groups: at most one of medical, general"):
        resolve_settings({"loglik_groups": {"medical": None}})
    with pytest.raises(ValueError, match="missing section"):
        parse_grid('{"models": {}}')
    pl.DataFrame({"model": ["m"], "value": [1.0]}).write_parquet(tmp_path / "s.parquet")
    with pytest.raises(ValueError, match=r"s.parquet: missing column\(s\) \['family'"):
        load_summary(tmp_path / "s.parquet")
    (tmp_path / "m").mkdir()
    with pytest.raises(ValueError, match="neither"):
        model_parameters(tmp_path / "m")


def test_knowledge_tables_follow_the_partages_layout(full: dict[str, Any]) -> None:
    """One table per group × language; cells are the summary's values with its significance marks."""
    section = full["sections"]["knowledge"]
    names = [a.name for a in section.artefacts]
    assert names == [
        "knowledge_medical_en",
        "knowledge_medical_fr",
        "knowledge_general_en",
        "knowledge_general_fr",
    ]
    table = _table(section, "knowledge_medical_fr")
    assert table.columns == ["model", "arm", "med-mcq", "average"]
    llama = {r[1]: r for r in table.rows if r[0] == "llama-1b"}
    # base, checkpoints by step, the rest; then the published rows of the same benchmarks (percent → fraction)
    assert list(llama) == ["base", "cpt@step-10", "cpt", "cpt-slerp", "published: cpt"]
    assert llama.pop("published: cpt")[2:] == [pytest.approx(0.615), pytest.approx(0.615)]
    assert table.rows[-1][:3] == ["Other-7B", "published: Other-7B", pytest.approx(0.4)]
    summary = full["summary"].filter(
        (pl.col("evaluation") == "loglik")
        & (pl.col("metric") == "loglik_acc")
        & (pl.col("model") == "llama-1b")
        & (pl.col("language") == "fr")
        & (pl.col("dataset") == "med-mcq")
    )
    for arm, row in llama.items():
        want = summary.filter(pl.col("arm") == arm).row(0, named=True)
        assert row[2].value == pytest.approx(want["value"]) and row[3] == pytest.approx(want["value"])
    assert (
        llama["base"][2].marks == "" and llama["cpt"][2].marks == "▲" and llama["cpt-slerp"][2].marks == "▼"
    )


def _label_boxes(figure: Any) -> list[tuple[str, Any]]:
    """(text, window extent) of every text a drawn figure shows: those of its visible axes (but tick
    labels outside the view, which are not drawn), its legends and its own texts."""
    from matplotlib.text import Text

    texts = [*figure.texts, *(t for legend in figure.legends for t in legend.findobj(Text))]
    for ax in figure.axes:
        if not ax.get_visible():
            continue
        hidden = set()
        for axis, (low, high) in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
            for where, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels(), strict=False):
                if not low - 1e-9 <= where <= high + 1e-9:
                    hidden.add(id(label))
        texts += [t for t in ax.findobj(Text) if id(t) not in hidden]
    renderer = figure.canvas.get_renderer()
    unique = {id(t): t for t in texts}.values()
    return [
        (t.get_text(), t.get_window_extent(renderer))
        for t in unique
        if t.get_visible() and t.get_text().strip()
    ]


def test_figures_are_paper_ready_and_their_labels_never_overlap(full: dict[str, Any]) -> None:
    """Every figure is written as PNG, PDF and SVG; drawn, no two labels overlap and none is clipped."""
    from pipeline.report.figures import FULL, paper_style

    out = full["root"] / "report"
    figures = [a for s in full["sections"].values() for a in s.artefacts if a.figure is not None]
    names = {a.name for a in figures}
    assert {"rq1_vs_base_forest", "tradeoff_scatter", "rq2_data_size_curve", "training_curves"} <= names
    for a in figures:
        assert a.figure.get_figwidth() <= FULL, a.name
        for fmt in ("png", "pdf", "svg"):
            assert (out / f"{a.name}.{fmt}").stat().st_size > 0, (a.name, fmt)
        with paper_style():
            a.figure.canvas.draw()
            boxes = _label_boxes(a.figure)
        page = a.figure.bbox
        for i, (text, box) in enumerate(boxes):
            assert page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1, f"{a.name}: {text!r} clipped"
            assert page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1, f"{a.name}: {text!r} clipped"
            for other, other_box in boxes[i + 1 :]:
                overlap = box.overlaps(other_box) and (
                    min(box.x1, other_box.x1) - max(box.x0, other_box.x0) > 1
                    and min(box.y1, other_box.y1) - max(box.y0, other_box.y0) > 1
                )
                assert not overlap, f"{a.name}: labels {text!r} and {other!r} overlap"


def test_tables_are_written_as_csv_with_intervals_and_booktabs_latex(full: dict[str, Any]) -> None:
    out = full["root"] / "report"
    table = _table(full["sections"]["rq1"], "rq1_arm_task")
    rows = list(csv.reader((out / "rq1_arm_task.csv").open(encoding="utf-8")))
    assert rows[0][:5] == ["arm", "argmining", "argmining ci_low", "argmining ci_high", "argmining marks"]
    first = table.rows[0][1]
    assert [float(v) for v in rows[1][1:4]] == [first.value, first.low, first.high] and rows[1][
        4
    ] == first.marks
    tex = (out / "rq1_arm_task.tex").read_text(encoding="utf-8")
    assert tex.count("\\toprule") == tex.count("\\midrule") == tex.count("\\bottomrule") == 1
    assert "\\label{tab:rq1_arm_task}" in tex and tex.count(" \\\\\n") == len(table.rows) + 1
    assert "◆" not in tex and "$\\blacklozenge$" in tex


def test_published_numbers_are_printed_beside_ours(full: dict[str, Any]) -> None:
    """Each published row as printed, then ours for the same model × arm in the same unit (± its se)."""
    section = full["sections"]["published"]
    table = _table(section, "published_synthetic_table1")
    assert table.columns == ["source", "model", "arm", "Med. FR", "X"]
    assert table.rows[0] == ["published", "Llama", "cpt", "61.5 ± 1.1", "2.0 ± 0.1"]
    ours = full["summary"].filter(
        (pl.col("model") == "llama-1b")
        & (pl.col("arm") == "cpt")
        & (pl.col("dataset") == "med-mcq")
        & (pl.col("language") == "fr")
        & (pl.col("metric") == "loglik_acc")
    )
    value, se = 100 * ours["value"].item(), 100 * ours["stderr"].item()
    assert table.rows[1] == ["ours", "llama-1b", "cpt", f"{value:.1f} ± {se:.1f}", None]
    assert table.rows[2] == ["published", "Other-7B", "–", "40.0", None]
    names = {a.name for a in section.artefacts}
    assert {
        "published_partages_table3",
        "published_preferred_medllm_table2",
        "published_thesis_table2",
    } <= names
    # Preferred-MedLLM's Table 2 rows name our arms: our stability accuracies follow them.
    pm = _table(section, "published_preferred_medllm_table2")
    assert pm.rows[0][:3] == ["published", "Preferred-MedLLM-Qwen-72B (CPT+RPO)", "cpt-rpo"]
    assert any(r[0] == "ours" and r[2] == "cpt" for r in pm.rows)


def test_a_model_arms_generation_cost_sums_its_jobs_per_dataset(tmp_path):
    """Generation runs one job per dataset: the cost table adds their throughput and benchmarks."""
    from pipeline.report.inputs import load_benchmarks, load_throughput

    throughput, benchmarks = [], []
    for dataset, seconds in (("demo-ner", 2.0), ("demo-re", 3.0)):
        path = tmp_path / "results/predictions/llama/it" / dataset / "throughput.json"
        record = {"prompts": 4, "cached": 1, "seconds": seconds, "prompt_tokens": 10, "completion_tokens": 5}
        write_json(path, {"model": "llama", "arm": "it", **record})
        throughput.append(path)
        bench = tmp_path / "results/benchmarks/generate/llama/it" / f"{dataset}.tsv"
        bench.parent.mkdir(parents=True, exist_ok=True)
        bench.write_text(f"s\tmax_rss\n{seconds}\t{100 * seconds}\n")
        benchmarks.append(bench)
    total = load_throughput(throughput)[("llama", "it")]
    assert (total["prompts"], total["cached"], total["seconds"], total["prompt_tokens"]) == (8, 2, 5.0, 20)
    bench_total = load_benchmarks(benchmarks)[("llama", "it")]
    assert (bench_total.seconds, bench_total.max_rss_mb) == (5.0, 300.0)
