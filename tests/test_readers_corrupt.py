"""Corrupted copies of a small valid file of every format: each read fails naming the file (and the
line where there is one), or, for a byte-order mark, reads exactly like the clean file."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.tasks.readers import READERS, get_reader
from pipeline.tasks.readers.reasoning import read_traces

XMI = """<?xml version="1.0" encoding="UTF-8"?>
<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore" xmlns:custom="http:///webanno/custom.ecore" xmi:version="2.0">
<cas:Sofa xmi:id="12" sofaNum="1" sofaID="_InitialView" mimeType="text" sofaString="Fever in the left arm."/>
<custom:BODYPART xmi:id="8" sofa="12" begin="13" end="21"/>
</xmi:XMI>
"""  # noqa: E501
MEDQA = {"question": "Q?", "options": {"A": "a", "B": "b"}, "answer_idx": "B"}
MEDMCQA = {"id": "m1", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 2}
ADMISSION = {"id": 1, "text": "Q?", "answers": ["a", "b", "c"], "label": 2}
MEDEXPQA = {
    "id": 1,
    "full_question": "Q?",
    "options": {"1": "a", "2": "b"},
    "correct_option": 1,
    "rag": "ctx",
}
CRF = {"id": "c1", "text": "Fever.", "items": {"history/fever": "yes"}}
PUBMEDQA = {
    "1": {"QUESTION": "Q?", "CONTEXTS": ["c1", "c2"], "final_decision": "yes"},
    "2": {"QUESTION": "R?", "CONTEXTS": ["c"], "final_decision": "no"},
}


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@dataclass(frozen=True)
class Format:
    """A valid sample: files under the root, how to read it, the file to corrupt, how to empty it."""

    files: dict[str, str]
    target: str  # the file whose bytes are corrupted
    options: dict | None = None
    language: str = "en"
    root: str = ""  # what the reader is given, under the sample folder
    empty: str | None = None  # a folder whose files are removed to empty the split (else: the target)


FORMATS = {
    "brat": Format(
        {
            "train/a.txt": "Fever and cough.\nAspirin given.\n",
            "train/a.ann": "T1\tSYMPTOM 0 5\tFever\nT2\tDRUG 17 24\tAspirin\n",
        },
        "train/a.ann",
        empty="train",
    ),
    "e3c_xmi": Format(
        {
            "documentation/train_test_split.txt": "ENGLISH\n'EN1'\n",
            "data_annotation/English/layer1/EN1.xml": XMI,
            "data_annotation/English/layer1/EN2.xml": XMI,
        },
        "data_annotation/English/layer1/EN1.xml",
        empty="data_annotation/English/layer1",
    ),
    "conll": Format(
        {"train.txt": "El\tO\nenalapril\tB-FARMACO\n\nOtro\tO\ncaso\tO\n"},
        "train.txt",
        {"labels": ["FARMACO"]},
    ),
    "diann": Format(
        {"English/English_Training/Annotated/a.txt": "Patients with <dis>dementia</dis>.\nNothing else.\n"},
        "English/English_Training/Annotated/a.txt",
        empty="English/English_Training/Annotated",
    ),
    "pubtator": Format(
        {
            "CDR_TrainingSet.PubTator.txt": "1|t|Aspirin use.\n1|a|Causes bleeding.\n"
            "1\t0\t7\tAspirin\tChemical\tD1\n\n"
        },
        "CDR_TrainingSet.PubTator.txt",
    ),
    "i2b2_2010": Format(
        {
            "train/txt/r1.txt": "Admitted with chest pain .\nGiven aspirin .\n",
            "train/concept/r1.con": 'c="chest pain" 1:2 1:3||t="problem"\n'
            'c="aspirin" 2:1 2:1||t="treatment"\n',
        },
        "train/concept/r1.con",
        empty="train/txt",
    ),
    "medqa_jsonl": Format({"train.jsonl": jsonl(MEDQA, {**MEDQA, "question": "R?"})}, "train.jsonl"),
    "medmcqa_json": Format({"train.json": jsonl(MEDMCQA, {**MEDMCQA, "id": "m2"})}, "train.json"),
    "admission_jsonl": Format(
        {"q.jsonl": jsonl(ADMISSION, {**ADMISSION, "id": 2})}, "q.jsonl", root="q.jsonl"
    ),
    "mmlu_csv": Format(
        {"dev/anatomy_dev.csv": 'Q1,a,b,c,d,B\n"Q2, with comma",a,b,c,d,A\n'}, "dev/anatomy_dev.csv"
    ),
    "casimedicos_rag": Format(
        {
            "bm25_rag.txt": "{'id': 1, 'question': 'Q', 'options': {'1': 'a', '2': 'b'},"
            " 'correct_answer': 1}\n{'id': 2, 'question': 'R', 'options': {'1': 'a', '2': 'b'},"
            " 'correct_answer': 2, 'bm25': ['p']}\n"
        },
        "bm25_rag.txt",
        root="bm25_rag.txt",
    ),
    "medexpqa_jsonl": Format({"en/train.jsonl": jsonl(MEDEXPQA, {**MEDEXPQA, "id": 2})}, "en/train.jsonl"),
    "pubmedqa": Format(
        {"ori_pqal.json": json.dumps(PUBMEDQA, indent=4), "test_ground_truth.json": json.dumps({"2": "no"})},
        "ori_pqal.json",
    ),
    "casimedicos_arg": Format(
        {
            "EN/train.tsv": "QUESTION\tO\nTYPE:\tO\n\nIt\tB-Claim\nis\tI-Claim\n\n"
            "QUESTION\tO\nTYPE:\tO\n\nNo\tO\n"
        },
        "EN/train.tsv",
    ),
    "crf_jsonl": Format({"en/train.jsonl": jsonl(CRF, {**CRF, "id": "c2"})}, "en/train.jsonl"),
}
TRACES = (
    'original_question_en,translated_question_th,complex_cot,response\n"Q\nmulti-line",th,think,ans\n'
    "Q2,th,t,a\n"
)


def sample(tmp_path: Path, name: str) -> tuple[Callable[[], list], Path]:
    """Write the valid sample of format `name`; return a function reading it and the target file."""
    base = tmp_path / name
    shutil.rmtree(base, ignore_errors=True)
    if name == "traces":
        path = base / "t.csv"
        path.parent.mkdir(parents=True)
        path.write_text(TRACES, encoding="utf-8")
        return lambda: read_traces(path), path
    fmt = FORMATS[name]
    for rel, text in fmt.files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_text(text, encoding="utf-8")
    reader = get_reader(name)
    return lambda: reader(base / fmt.root, fmt.language, dict(fmt.options or {})), base / fmt.target


ALL = [*FORMATS, "traces"]


def test_every_reader_has_a_sample():
    assert set(FORMATS) == set(READERS)


def named(err: pytest.ExceptionInfo, path: Path, line: bool = True) -> None:
    message = str(err.value)
    assert str(path) in message, message
    if line:
        assert re.search(rf"{re.escape(str(path))}:\d+", message), message


@pytest.mark.parametrize("name", ALL)
def test_clean_sample_reads(tmp_path, name):
    read, _ = sample(tmp_path, name)
    assert len(read()) >= 1


@pytest.mark.parametrize("name", ALL)
def test_non_utf8_bytes_name_file_and_line(tmp_path, name):
    read, target = sample(tmp_path, name)
    data = target.read_bytes()
    cut = data.index(b"\n") + 1
    target.write_bytes(data[:cut] + b"caf\xe9 \xff" + data[cut:])
    with pytest.raises(ValueError) as err:
        read()
    named(err, target)
    assert re.search(rf"{re.escape(str(target))}:2\b", str(err.value)) or name == "e3c_xmi", str(err.value)


@pytest.mark.parametrize("name", ALL)
def test_byte_order_mark_is_dropped_not_glued_to_the_first_token(tmp_path, name):
    read, target = sample(tmp_path, name)
    clean = read()
    target.write_bytes(b"\xef\xbb\xbf" + target.read_bytes())
    marked = read()
    assert marked == clean
    assert "\ufeff" not in repr(marked)


@pytest.mark.parametrize("name", ALL)
def test_empty_split_is_an_error_naming_it(tmp_path, name):
    read, target = sample(tmp_path, name)
    fmt = FORMATS.get(name)
    if fmt is not None and fmt.empty:
        folder = tmp_path / name / fmt.empty
        for path in folder.glob("*.*"):
            path.unlink()
        with pytest.raises((ValueError, FileNotFoundError)) as err:
            read()
        named(err, folder, line=False)
        return
    target.write_bytes(b"")
    with pytest.raises(ValueError) as err:
        read()
    named(err, target, line=False)


@pytest.mark.parametrize(
    "name", ["medqa_jsonl", "medmcqa_json", "admission_jsonl", "medexpqa_jsonl", "crf_jsonl"]
)
def test_jsonl_deep_nesting_and_non_object_lines(tmp_path, name):
    read, target = sample(tmp_path, name)
    good = target.read_text()
    target.write_text(good + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(target))}:3: JSON nested too deeply"):
        read()
    target.write_text(good + "[1, 2]\n")
    with pytest.raises(ValueError, match=rf"{re.escape(str(target))}:3: expected a JSON object"):
        read()


def write_sample(tmp_path: Path, name: str, target_text: str) -> tuple[Callable[[], list], Path]:
    read, target = sample(tmp_path, name)
    target.write_text(target_text, encoding="utf-8")
    return read, target


CASES = [
    # (format, corrupted text of the target, expected error after the target's name)
    ("brat", "T1\tSYMPTOM 0 5\tFever\nT1\tDRUG 17 24\tAspirin\n", r":2: .*entity id T1 is defined twice"),
    ("conll", "El\tO\nenalapril\tB-FARMCO\n", r":2: unknown label 'B-FARMCO'"),
    ("conll", "El\tO\nenalapril\n", r":2: expected 'token<sep>tag'"),
    ("mmlu_csv", 'Q1,a,b,c,d,B\n"Q2, cut inside the quotes,a,b\n', r":2: broken CSV"),
    ("admission_jsonl", jsonl({**ADMISSION, "label": True}), r":1: answer True"),
    ("medmcqa_json", jsonl({**MEDMCQA, "cop": True}), r":1: 'cop' must be an integer"),
    ("medmcqa_json", json.dumps({"data": [MEDQA, "not an object"]}), r": record 1: expected a JSON object"),
    ("medmcqa_json", jsonl({**MEDMCQA, "cop": "2"}), r":1: 'cop' must be an integer"),
    ("medqa_jsonl", jsonl({**MEDQA, "options": ["a", "b"]}), r":1: 'options' must be a non-empty mapping"),
    ("medexpqa_jsonl", jsonl({**MEDEXPQA, "rag": [1, 2]}), r":1: 'rag' must be a string"),
    (
        "pubmedqa",
        json.dumps({**PUBMEDQA, "1": {**PUBMEDQA["1"], "CONTEXTS": "one string"}}),
        r": pmid 1: CONTEXTS must be a list",
    ),
    ("pubmedqa", json.dumps({**PUBMEDQA, "1": "not an object"}), r": pmid 1: expected a JSON object"),
    (
        "pubmedqa",
        '{"1": ' + json.dumps(PUBMEDQA["1"]) + ', "1": ' + json.dumps(PUBMEDQA["2"]) + "}",
        r": duplicate key\(s\) \['1'\]",
    ),
    ("pubmedqa", '{"1": ' + "[" * 100_000 + "]" * 100_000 + "}", r": JSON nested too deeply"),
    ("pubmedqa", json.dumps(PUBMEDQA)[:-20], r":1: invalid JSON"),
    (
        "casimedicos_rag",
        "{'id': 1, 'question': 'Q', 'options': " + "[" * 5000 + "]" * 5000 + "}\n",
        r":1: not a Python dict literal",
    ),
    (
        "casimedicos_rag",
        "{'id': 1, 'question': 'Q', 'options': {'1': 'a', '2': 'b'}, 'correct_answer': 1, 'bm25': 'p'}\n",
        r":1: 'bm25' must be a list",
    ),
    ("e3c_xmi", XMI[: len(XMI) // 2], r":\d+: broken XML"),
    ("casimedicos_arg", "It\tB-Claim\n", r":1: tokens before the first case header"),
    ("crf_jsonl", jsonl({**CRF, "items": ["x"]}), r":1: 'text' must be a string and 'items' a mapping"),
    ("pubtator", "1|t|Aspirin use.\n1\t0\t7\tAspirn\tChemical\tD1\n\n", r":2: mention 'Aspirn'"),
    ("diann", "Patients with <dis>dementia.\n", r":1: <dis> is never closed"),
    ("i2b2_2010", 'c="chest pain" 1:2 1:3||t="problem"\nc="chest" 1:2\n', r":2: expected"),
]


@pytest.mark.parametrize(
    ("name", "text", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_format_specific_corruption_names_file_and_line(tmp_path, name, text, expected):
    read, target = write_sample(tmp_path, name, text)
    with pytest.raises(ValueError, match=re.escape(str(target)) + expected):
        read()


def test_traces_csv_cut_inside_a_quoted_field(tmp_path):
    read, target = write_sample(tmp_path, "traces", TRACES + '"Q3 cut,th,t\n')
    with pytest.raises(ValueError, match=rf"{re.escape(str(target))}:\d+: broken CSV"):
        read()


def test_brat_offsets_that_count_a_byte_order_mark(tmp_path):
    """BRAT tools count a leading BOM as a character: spans keep pointing at their words."""
    read, target = sample(tmp_path, "brat")
    txt = target.with_suffix(".txt")
    txt.write_bytes(b"\xef\xbb\xbf" + txt.read_bytes())
    target.write_text("T1\tSYMPTOM 1 6\tFever\nT2\tDRUG 18 25\tAspirin\n")
    (doc,) = read()
    assert not doc.text.startswith("\ufeff")
    assert [(doc.text[e["start"] : e["end"]], e["text"]) for e in doc.gold["entities"]] == [
        ("Fever", "Fever"),
        ("Aspirin", "Aspirin"),
    ]
