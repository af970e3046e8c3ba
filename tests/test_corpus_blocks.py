"""Chunking, the validation split and the blocks stage with a tiny real tokenizer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.corpus import blocks
from pipeline.corpus.blocks import Chunker, load_tokenizer, make_blocks, validation_masks
from pipeline.corpus.build import SCHEMA as CORPUS_SCHEMA
from pipeline.corpus.settings import BlocksSettings


def test_disjoint_blocks_and_remainder_dropped():
    chunker = Chunker(block_size=4, stride=4, min_remainder=4, pad_id=None)
    out = chunker.add("s", np.arange(6, dtype=np.int32))
    assert out.tolist() == [[0, 1, 2, 3]]
    assert chunker.add("s", np.arange(6, 9, dtype=np.int32)).tolist() == [[4, 5, 6, 7]]
    assert chunker.finish("s").shape == (0, 4)
    assert chunker.dropped_tokens == 1 and chunker.emitted["s"] == 2


def test_overlapping_stride_and_padded_remainder():
    chunker = Chunker(block_size=4, stride=2, min_remainder=3, pad_id=-1)
    assert chunker.add("s", np.arange(9, dtype=np.int32)).tolist() == [
        [0, 1, 2, 3],
        [2, 3, 4, 5],
        [4, 5, 6, 7],
    ]
    assert chunker.finish("s").tolist() == [[6, 7, 8, -1]]
    assert chunker.padding_tokens == 1
    with pytest.raises(ValueError, match="needs a pad token"):
        no_pad = Chunker(block_size=4, stride=4, min_remainder=1, pad_id=None)
        no_pad.add("s", np.arange(2, dtype=np.int32))
        no_pad.finish("s")
    with pytest.raises(ValueError, match="stride"):
        Chunker(block_size=4, stride=5, min_remainder=4, pad_id=None)


def test_validation_masks_are_stratified_and_seeded():
    masks = validation_masks(Counter({"a": 100, "b": 10, "c": 1}), 0.1, seed=3)
    assert masks["a"].sum() == 10 and masks["b"].sum() == 1 and masks["c"].sum() == 0
    again = validation_masks(Counter({"b": 10}), 0.1, seed=3)
    assert (again["b"] == masks["b"]).all()
    assert validation_masks(Counter({"a": 2}), 0.01, seed=0)["a"].sum() == 1
    with pytest.raises(ValueError, match="validation_fraction"):
        validation_masks(Counter({"a": 2}), 1.0, seed=0)


def corpus_file(path, docs):
    rows = [
        {
            "id": str(i),
            "source": s,
            "language": lang,
            "doc_type": "note",
            "licence": "CC0",
            "text": t,
            "words": len(t.split()),
            "licence_class": "commercial",
            "contaminated": False,
        }
        for i, (s, lang, t) in enumerate(docs)
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=CORPUS_SCHEMA), path)
    return path


DOCS = [
    ("en-src", "en", "The patient was given 20 mg of aspirin for chest pain. " * 6),
    ("it-src", "it", "Il paziente presenta febbre e dolore addominale. " * 5),
    ("en-src", "en", "Blood pressure 120/80 mmHg on admission. " * 7),
    ("it-src", "it", "Emoglobina 12 g/dL, paziente stabile. " * 9),
] * 5


def test_make_blocks_conserves_tokens(tmp_path, tiny_model_factory):
    model = tiny_model_factory("llama", "base")
    tok = load_tokenizer(model)
    corpus = corpus_file(tmp_path / "corpus.parquet", DOCS)
    settings = BlocksSettings.from_mapping(
        {"block_size": 32, "min_remainder": 8, "validation_fraction": 0.2, "batch_size": 3}
    )
    stats = make_blocks(corpus, model, settings, tmp_path / "blocks.parquet")
    table = pq.read_table(tmp_path / "blocks.parquet")
    assert table.schema.field("input_ids").type == pa.list_(pa.int32())
    ids = table.column("input_ids").to_pylist()
    assert {len(x) for x in ids} == {32}
    expected = {
        s: sum(len(tok.tokenizer.encode(t, add_special_tokens=False).ids) for src, _, t in DOCS if src == s)
        for s in ("en-src", "it-src")
    }
    assert {r["source"]: r["tokens"] for r in stats["table"]} == expected
    flat = [t for x in ids for t in x]
    assert len(flat) == stats["tokens"] + len(DOCS) - stats["dropped_tokens"] + stats["padding_tokens"]
    assert (
        stats["blocks"]["total"] == table.num_rows == stats["blocks"]["train"] + stats["blocks"]["validation"]
    )
    for source, n in stats["blocks_per_source"].items():
        splits = table.filter(pa.compute.equal(table.column("source"), source)).column("split").to_pylist()
        assert len(splits) == n and splits.count("validation") == round(0.2 * n)
    text = tok.tokenizer.decode(ids[0], skip_special_tokens=False)
    assert text.startswith("The patient was given 20 mg")
    assert stats["tokens_per_word"] == stats["tokens"] / stats["words"]
    assert stats["tokenizer"] == "model"


def test_blocks_cli_defaults_never_pad(tmp_path, tiny_model_factory):
    model = tiny_model_factory("llama", "base")
    corpus = corpus_file(tmp_path / "corpus.parquet", DOCS)
    out, stats_path = tmp_path / "b.parquet", tmp_path / "b.json"
    blocks.main(
        [
            "--corpus",
            str(corpus),
            "--tokenizer",
            str(model),
            "--output",
            str(out),
            "--stats",
            str(stats_path),
            "--settings",
            '{"block_size": 64}',
            "--tokenizer-name",
            "llama",
        ]
    )
    stats = json.loads(stats_path.read_text())
    assert stats["padding_share"] == 0.0 and stats["tokenizer"] == "llama"
    assert stats["dropped_tokens"] > 0
    with pytest.raises(ValueError, match=r"no tokenizer\.json"):
        load_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="not a built corpus"):
        pq.write_table(pa.table({"text": ["x"]}), tmp_path / "raw.parquet")
        make_blocks(tmp_path / "raw.parquet", model, BlocksSettings(), out)


def test_corpus_modules_do_not_import_torch_or_transformers():
    code = (
        "import sys; import pipeline.corpus.clean, pipeline.corpus.build, pipeline.corpus.blocks, "
        "pipeline.corpus.stats, pipeline.corpus.decontaminate; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
