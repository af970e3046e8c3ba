"""Sub-RQ3: what each arm trains on: mix statistics (SFT arms) and corpus block statistics (CPT arms)."""

from __future__ import annotations

from typing import Any

from pipeline.report.context import Context
from pipeline.report.document import Artefact, Section
from pipeline.report.tables import Table

TITLE = "Sub-RQ3: training data differences"
QUESTION = "How do the arms' training data differ?"


def _mix_table(ctx: Context) -> Table | None:
    mixes = [(a, ctx.inputs.grid.arms[a].spec["mix"]) for a in ctx.inputs.grid.arms_with("sft")]
    used = [(a, mix, ctx.inputs.mix_stats[mix]) for a, mix in mixes if mix in ctx.inputs.mix_stats]
    if not used:
        return None
    tasks = sorted({t for _, _, st in used for t in st["by_task"]})
    languages = sorted({lang for _, _, st in used for lang in st["by_language"]})
    rows = []
    for arm, mix, st in used:
        row: list[Any] = [arm, mix, st.get("kind"), st["examples"]]
        row += [st["by_task"].get(t, 0) for t in tasks] + [
            st["by_language"].get(lang, 0) for lang in languages
        ]
        row += [st["prompt_words"][k] for k in ("mean", "median", "p95")]
        row += [st["completion_words"][k] for k in ("mean", "median", "p95")]
        row += [st.get("completion_word_share"), st.get("vocabulary_size")]
        rows.append(row)
    columns = ["arm", "mix", "kind", "examples", *(f"task {t}" for t in tasks)]
    columns += [f"lang {lang}" for lang in languages]
    columns += ["prompt words mean", "prompt words median", "prompt words p95"]
    columns += ["completion words mean", "completion words median", "completion words p95"]
    return Table([*columns, "completion word share", "vocabulary"], rows)


def _corpus_table(ctx: Context) -> Table | None:
    rows = []
    for arm in ctx.inputs.grid.arms_with("cpt"):
        spec = ctx.inputs.grid.arms[arm].spec
        budget = (spec.get("settings") or {}).get("token_budget")
        for model in ctx.inputs.grid.models:
            st = ctx.inputs.block_stats.get((model, spec.get("corpus")))
            if st is None:
                continue
            blocks = st["blocks"]["train"] if isinstance(st["blocks"], dict) else st["blocks"]
            rows.append(
                [
                    arm,
                    spec["corpus"],
                    model,
                    budget,
                    st["documents"],
                    st["words"],
                    st["tokens"],
                    blocks,
                    st["tokens_per_word"],
                ]
            )
    if not rows:
        return None
    return Table(
        [
            "arm",
            "corpus",
            "model (tokenizer)",
            "token budget",
            "documents",
            "words",
            "tokens",
            "train blocks",
            "tokens per word",
        ],
        rows,
    )


def datadiff_sections(ctx: Context) -> list[Section]:
    mix, corpus = _mix_table(ctx), _corpus_table(ctx)
    if mix is None and corpus is None:
        return [
            Section(
                "rq3",
                TITLE,
                QUESTION,
                missing="No mix statistics (--mix-stats) or corpus block "
                "statistics (--block-stats) of the grid's SFT or CPT arms were given.",
            )
        ]
    text, artefacts = [], []
    if mix is not None:
        artefacts.append(
            Artefact(
                "rq3_mix_stats",
                "Training mix per SFT arm: examples, per task and language "
                "counts, prompt and completion lengths (words), completion word share, "
                "vocabulary size.",
                mix,
            )
        )
    else:
        text.append("No mix statistics (--mix-stats) of the grid's SFT arms were given.")
    if corpus is not None:
        artefacts.append(
            Artefact(
                "rq3_corpus_stats",
                "Corpus per CPT arm and tokenizer: documents, words, "
                "tokens, train blocks, tokens per word (the token budget, if any, is the "
                "share or count of tokens trained on).",
                corpus,
            )
        )
    else:
        text.append("No corpus block statistics (--block-stats) of the grid's CPT arms were given.")
    return [Section("rq3", TITLE, QUESTION, text, artefacts)]
