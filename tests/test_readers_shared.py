"""Every registry dataset in shared/data loads, with the counts its README gives."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import pytest

from pipeline.tasks.readers import get_reader
from pipeline.tasks.readers.reasoning import read_traces
from pipeline.tasks.registry import data_path, load_examples, load_registry

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e  # parses all of shared/data once (~15 s on a loaded machine)


@pytest.fixture(scope="session")
def thesis(shared_data):
    """The thesis registry's development twin (paths in `../shared/data`), restricted sets dropped."""
    registry = load_registry(REPO / "config" / "datasets" / "shared.yaml")
    out = {}
    for name, spec in registry.items():
        langs = tuple(lang for lang in spec.languages if data_path(name, spec, lang, REPO).exists())
        if langs:
            out[name] = dataclasses.replace(spec, languages=langs)
    return out


@pytest.fixture(scope="session")
def loaded(thesis, shared_data):
    """Examples per dataset (parsed once per session)."""
    if shared_data.resolve() != (REPO.parent / "shared" / "data").resolve():
        pytest.skip("shared.yaml paths point at ../shared/data beside the repository")
    return {name: load_examples(name, spec, REPO) for name, spec in thesis.items()}


def per(examples, key, subtask=None):
    return Counter(key(e) for e in examples if subtask is None or e.subtask == subtask)


def mentions(examples, subtask=None, by=lambda e: e.language):
    c: Counter = Counter()
    for e in examples:
        if subtask is None or e.subtask == subtask:
            c[by(e)] += len(e.gold["entities"])
    return c


def test_every_shared_dataset_of_the_registry_loads(loaded):
    expected = {"e3c-ner", "e3c-re", "distemist", "cardioccc", "diann", "bc5", "ncbi", "meddocan",
                "cantemist", "pharmaconer", "medmcqa", "medqa", "at", "pubmedqa", "casimedicos"}  # fmt: skip
    assert set(loaded) == expected
    for name, examples in loaded.items():
        assert examples, name
        assert len({e.id for e in examples}) == len(examples), name
        for e in examples:
            for s in e.gold.get("entities", []):
                assert e.text[s["start"] : s["end"]] == s["text"], (e.id, s)


def test_e3c_counts(loaded):
    ner, re_ = loaded["e3c-ner"], loaded["e3c-re"]
    assert per(ner, lambda e: e.language, "clinical_entity") == {"en": 80, "it": 82, "es": 77}
    assert per(ner, lambda e: (e.language, e.split), "clinical_entity") == {
        ("en", "train"): 36, ("en", "test"): 44, ("it", "train"): 36, ("it", "test"): 46,
        ("es", "train"): 36, ("es", "test"): 41,
    }  # fmt: skip
    assert mentions(ner, "clinical_entity") == {"en": 990, "it": 841, "es": 1255}
    assert mentions(ner, "body_part") == {"en": 944, "it": 299, "es": 737}
    rels = Counter()
    for e in re_:
        rels[e.language] += len(e.gold["relations"])
        assert all(r["head"]["label"] == "EVENT" and r["tail"]["label"] == "RML" for r in e.gold["relations"])
    assert rels == {"en": 528, "it": 430, "es": 434}


def test_brat_counts(loaded):
    assert per(loaded["meddocan"], lambda e: e.split) == {"train": 100, "dev": 30, "test": 30}
    assert sum(mentions(loaded["meddocan"]).values()) == 322
    assert per(loaded["cantemist"], lambda e: e.split) == {"train": 60, "dev": 20, "test": 30}
    assert sum(mentions(loaded["cantemist"]).values()) == 1465


def test_conll_counts(loaded):
    assert per(loaded["pharmaconer"], lambda e: e.split) == {"train": 9411, "dev": 1046, "test": 3403}
    card = per(loaded["cardioccc"], lambda e: (e.language, e.split))
    assert card == {
        (lang, s): n for lang in ("en", "es", "it") for s, n in (("train", 60), ("dev", 40), ("test", 40))
    }
    b_tags = {"en": 89 + 442 + 268, "es": 211 + 431 + 266, "it": 188 + 450 + 266}  # `B-FARMACO` lines
    assert all(mentions(loaded["cardioccc"])[lang] >= n for lang, n in b_tags.items())
    assert len(loaded["distemist"]) == 100 and sum(mentions(loaded["distemist"]).values()) >= 1049


def test_diann_and_pubtator_counts(loaded):
    diann = loaded["diann"]
    assert per(diann, lambda e: (e.language, e.split)) == {
        ("en", "train"): 400, ("en", "test"): 100, ("es", "train"): 400, ("es", "test"): 100,
    }  # fmt: skip
    by = mentions(diann, by=lambda e: (e.language, e.split))
    assert by[("en", "train")] == 1413 and by[("es", "train")] == 1326 and sum(by.values()) == 3211
    assert all("<dis>" not in e.text for e in diann)
    bc5 = loaded["bc5"]
    assert per(bc5, lambda e: e.split) == {"train": 500, "dev": 500, "test": 500}
    assert mentions(bc5, by=lambda e: e.split) == {"train": 4182, "dev": 4244, "test": 4424}
    ncbi = loaded["ncbi"]
    assert per(ncbi, lambda e: e.split) == {"train": 593, "dev": 100, "test": 100}  # pmid 8528200 twice
    assert mentions(ncbi, by=lambda e: e.split) == {"train": 5145, "dev": 787, "test": 960}


def test_qa_counts(loaded):
    assert per(loaded["medqa"], lambda e: e.split) == {"test": 1253}
    assert all(len(e.gold["choices"]) == 5 for e in loaded["medqa"])
    assert per(loaded["medmcqa"], lambda e: e.split) == {"test": 10}
    at = loaded["at"]
    assert len(at) == 3301 and per(at, lambda e: e.split) == {"test": 990, "dev": 231, "train": 2080}
    assert per(at, lambda e: e.metadata["topic"])["biologia"] == 1180
    pubmedqa = loaded["pubmedqa"]
    assert per(pubmedqa, lambda e: e.split) == {"train": 450, "dev": 50, "test": 490}
    assert all(e.gold["choices"] == ["yes", "no", "maybe"] and e.gold["context"] for e in pubmedqa)


def test_argmining_counts(loaded):
    arg = loaded["casimedicos"]
    assert per(arg, lambda e: (e.language, e.split)) == {
        (lang, s): n for lang in ("en", "es", "it") for s, n in (("train", 381), ("dev", 55), ("test", 115))
    }
    assert all(e.text.startswith("QUESTION TYPE:") for e in arg)
    labels = Counter((e.language, s["label"]) for e in arg for s in e.gold["entities"])
    b_lines = {("en", "Claim"): 4945, ("en", "Premise"): 2263, ("es", "Claim"): 4935, ("es", "Premise"): 2253,
               ("it", "Claim"): 4908, ("it", "Premise"): 2254}  # `B-` lines in the files  # fmt: skip
    assert labels == b_lines | {("it", "Claim"): 4908 + 1}  # + one IT span that starts with `I-Claim`
    en = {e.metadata["doc_id"]: e for e in arg if e.language == "en"}
    es = {e.metadata["doc_id"]: e for e in arg if e.language == "es"}
    assert en.keys() == es.keys()  # parallel cases, same ids


def test_readers_outside_the_registry(shared_data):
    mmlu = get_reader("mmlu_csv")(shared_data / "qa" / "mmlu", "en", {"subjects": ["anatomy"]})
    assert Counter(d.split for d in mmlu) == {"train": 5, "dev": 14, "test": 135}
    rag = get_reader("casimedicos_rag")(shared_data / "qa" / "casimedicos_rag" / "bm25_rag.txt", "en", {})
    assert len(rag) == 60 and all(d.gold["context"] and len(d.gold["choices"]) in (4, 5) for d in rag)
    e3c_iob = get_reader("conll")(
        shared_data / "e3c/preprocessed_data/clinical_entities/layer1",
        "en",
        {"splits": {"train": "English/train.txt"}, "labels": ["ety"]},
    )
    assert len(e3c_iob) == 669
    fr = get_reader("casimedicos_arg")(shared_data / "argmining/casimedicos-arg", "fr", {})
    assert Counter(d.split for d in fr) == {"train": 381, "dev": 55, "test": 115}
    traces = read_traces(shared_data / "reasoning" / "translated_medical_o1_input_en_to_th.csv")
    assert len(traces) == 10 and all(t["reasoning"] and t["answer"] for t in traces)


def test_partages_registry_reads_the_english_benchmarks(shared_data):
    """The PARTAGES study's EN benchmarks load from shared/data; medical and general MMLU split by subject."""
    if shared_data.resolve() != (REPO.parent / "shared" / "data").resolve():
        pytest.skip("partages.yaml paths point at ../shared/data beside the repository")
    registry = load_registry(REPO / "config" / "datasets" / "partages.yaml")
    subjects = {}
    for name in ("mmlu-medical", "mmlu-general"):
        spec = dataclasses.replace(registry[name], languages=("en",))
        examples = load_examples(name, spec, REPO)
        assert {e.split for e in examples} == {"train", "dev", "test"}
        subjects[name] = {e.metadata["subject"] for e in examples}
    assert len(subjects["mmlu-medical"]) == len(subjects["mmlu-general"]) == 6
    assert "anatomy" in subjects["mmlu-medical"] and "philosophy" in subjects["mmlu-general"]
    medqa = load_examples("medqa", dataclasses.replace(registry["medqa"], languages=("en",)), REPO)
    assert Counter(e.split for e in medqa) == {"test": 1253}
