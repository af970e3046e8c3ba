"""Each reader on small files written here: the formats without data in shared/data, and one
malformed file per format, which must stop with an error naming the file and line/record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.tasks.readers import READERS, get_reader
from pipeline.tasks.readers.reasoning import read_traces

XMI = """<?xml version="1.0" encoding="UTF-8"?><xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore" xmlns:custom="http:///webanno/custom.ecore" xmi:version="2.0">
<cas:Sofa xmi:id="12" sofaNum="1" sofaID="_InitialView" mimeType="text" sofaString="Haemoglobin 9 g/dL in the left arm."/>
<custom:EVENT xmi:id="5" sofa="12" begin="0" end="11"/>
<custom:RML xmi:id="6" sofa="12" begin="12" end="18" PERTAINSTO="7"/>
<custom:RMLPERTAINSTOLink xmi:id="7" role="PERTAINS" target="5"/>
<custom:BODYPART xmi:id="8" sofa="12" begin="26" end="34"/>
</xmi:XMI>
"""  # noqa: E501
SPLIT_FILE = "Train Dataset\n\nENGLISH\n'EN1', 'EN3'\n\nITALIAN\n'IT1'\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def read(reader: str, root: Path, language: str = "en", **options):
    return get_reader(reader)(root, language, options)


def test_every_registered_reader_imports():
    for name in READERS:
        assert callable(get_reader(name))
    with pytest.raises(ValueError, match="unknown reader 'nope'"):
        get_reader("nope")


def test_e3c_xmi(tmp_path):
    write(tmp_path / "documentation/train_test_split.txt", SPLIT_FILE)
    for doc in ("EN1", "EN2"):
        write(tmp_path / f"data_annotation/English/layer1/{doc}.xml", XMI)
    docs = read("e3c_xmi", tmp_path)
    assert [(d.id, d.split) for d in docs] == [("EN1", "train"), ("EN2", "test")]
    gold = docs[0].gold
    assert [(e["label"], e["text"]) for e in gold["entities"]] == [
        ("EVENT", "Haemoglobin"), ("RML", "9 g/dL"), ("BODYPART", "left arm"),
    ]  # fmt: skip
    rel = gold["relations"][0]
    assert (rel["head"]["text"], rel["relation"], rel["tail"]["text"]) == (
        "Haemoglobin",
        "HAS_RESULT",
        "9 g/dL",
    )


def test_e3c_xmi_broken_xml(tmp_path):
    write(tmp_path / "documentation/train_test_split.txt", SPLIT_FILE)
    bad = write(tmp_path / "data_annotation/English/layer1/EN1.xml", XMI.replace("</xmi:XMI>", "<custom:RML"))
    with pytest.raises(ValueError, match=rf"{bad}:\d+: broken XML"):
        read("e3c_xmi", tmp_path)
    write(bad, XMI.replace('PERTAINSTO="7"', 'PERTAINSTO="99"'))
    with pytest.raises(ValueError, match=rf"{bad}:4: PERTAINSTO link 99"):
        read("e3c_xmi", tmp_path)


def test_brat_n2c2_2018_relations_and_discontinuous_spans(tmp_path):
    text = "Aspirin 81 mg tablet daily.\n"
    write(tmp_path / "train/100.txt", text)
    write(
        tmp_path / "train/100.ann",
        "T1\tDrug 0 7\tAspirin\nT2\tStrength 8 13\t81 mg\nT3\tForm 14 20;21 26\ttablet daily\n"
        "T4\tFrequency 21 26\tdaily\nR1\tStrength-Drug Arg1:T2 Arg2:T1\nR2\tFrequency-Drug Arg1:T4 Arg2:T1\n"
        "#1\tAnnotatorNotes T1\tnote\nA1\tNegated T1\n",
    )
    (doc,) = read("brat", tmp_path)
    assert doc.split == "train" and doc.id == "100"
    assert [e["text"] for e in doc.gold["entities"]] == ["Aspirin", "81 mg", "tablet daily", "daily"]
    assert [(r["head"]["text"], r["relation"], r["tail"]["text"]) for r in doc.gold["relations"]] == [
        ("81 mg", "Strength-Drug", "Aspirin"), ("daily", "Frequency-Drug", "Aspirin"),
    ]  # fmt: skip


def test_brat_offset_outside_the_text(tmp_path):
    write(tmp_path / "test/a.txt", "short")
    ann = write(tmp_path / "test/a.ann", "T1\tAGE 0 5\tshort\nT2\tAGE 3 40\tort\n")
    with pytest.raises(ValueError, match=rf"{ann}:2: .*outside the text"):
        read("brat", tmp_path)
    write(ann, "T1\tAGE 0 5\tshort\nR1\tX Arg1:T1 Arg2:T9\n")
    with pytest.raises(ValueError, match=rf"{ann}:2: .*not entities"):
        read("brat", tmp_path)


def test_conll_rebuilds_text_and_offsets(tmp_path):
    write(
        tmp_path / "train.txt",
        "El\tO\nenalapril\tB-FARMACO\n20\tI-FARMACO\nmg\tI-FARMACO\n\nOtro\tO\ncaso\tB-X\n\n",
    )
    docs = read("conll", tmp_path, separator="tab", block="document", labels=["FARMACO", "X"])
    assert [d.text for d in docs] == ["El enalapril 20 mg", "Otro caso"]
    assert docs[0].gold["entities"] == [
        {"start": 3, "end": 18, "label": "FARMACO", "text": "enalapril 20 mg"}
    ]
    bad = write(tmp_path / "train.txt", "El\tO\nenalapril\tB-FARMACO\n\nx\tB-OTHER\n")
    with pytest.raises(ValueError, match=rf"{bad}:4: unknown label 'B-OTHER'"):
        read("conll", tmp_path, labels=["FARMACO"])
    write(bad, "El\tO\nenalapril\tDRUG\n")
    with pytest.raises(ValueError, match=rf"{bad}:2: unknown label 'DRUG'"):
        read("conll", tmp_path, labels=["FARMACO"])
    with pytest.raises(ValueError, match=r"options\.labels: required"):
        read("conll", tmp_path)


def test_diann_inline_tags(tmp_path):
    root = tmp_path / "English/English_Training/Annotated"
    write(
        root / "S1.txt",
        "Patients <scp><neg>without</neg> <dis>dementia</dis></scp> and <dis>hearing loss</dis>.\n",
    )
    (doc,) = read("diann", tmp_path)
    assert doc.text == "Patients without dementia and hearing loss.\n"
    assert [e["text"] for e in doc.gold["entities"]] == ["dementia", "hearing loss"]
    bad = write(root / "S1.txt", "ok\n<dis>dementia</neg>\n")
    with pytest.raises(ValueError, match=rf"{bad}:2: closing </neg>"):
        read("diann", tmp_path)


def test_pubtator_mention_mismatch(tmp_path):
    good = (
        "1|t|Aspirin use.\n1|a|Causes bleeding.\n"
        "1\t0\t7\tAspirin\tChemical\tD1\n1\t20\t28\tbleeding\tDisease\tD2\n"
    )
    write(tmp_path / "CDR_TrainingSet.PubTator.txt", good + "1\tCID\tD1\tD2\n\n")
    (doc,) = read("pubtator", tmp_path)
    assert [e["text"] for e in doc.gold["entities"]] == ["Aspirin", "bleeding"]
    assert doc.metadata["relations"] == [["CID", "D1", "D2"]]
    bad = write(tmp_path / "CDR_TrainingSet.PubTator.txt", good.replace("20\t28", "21\t29"))
    with pytest.raises(ValueError, match=rf"{bad}:4: mention 'bleeding'"):
        read("pubtator", tmp_path)


def test_i2b2_2010_concepts_and_relations(tmp_path):
    write(tmp_path / "train/txt/r1.txt", "Admitted with chest pain .\nGiven aspirin for pain .\n")
    write(
        tmp_path / "train/concept/r1.con",
        'c="chest pain" 1:2 1:3||t="problem"\nc="aspirin" 2:1 2:1||t="treatment"\n'
        'c="pain" 2:3 2:3||t="problem"\n',
    )
    write(tmp_path / "train/rel/r1.rel", 'c="aspirin" 2:1 2:1||r="TrAP"||c="pain" 2:3 2:3\n')
    (doc,) = read("i2b2_2010", tmp_path)
    assert [(e["label"], e["text"]) for e in doc.gold["entities"]] == [
        ("problem", "chest pain"), ("treatment", "aspirin"), ("problem", "pain"),
    ]  # fmt: skip
    (rel,) = doc.gold["relations"]
    assert (rel["head"]["text"], rel["relation"], rel["tail"]["text"]) == ("aspirin", "TrAP", "pain")
    bad = write(
        tmp_path / "train/concept/r1.con", 'c="chest pain" 1:2 1:3||t="problem"\nc="x" 9:0 9:0||t="test"\n'
    )
    with pytest.raises(ValueError, match=rf"{bad}:2: position 9:0"):
        read("i2b2_2010", tmp_path)


def test_crf_jsonl(tmp_path):
    rec = {"id": "c1", "text": "Fever since May.", "items": {"history/fever": "yes", "exams/ecg": None}}
    write(tmp_path / "it/train.jsonl", json.dumps(rec) + "\n")
    (doc,) = read("crf_jsonl", tmp_path, "it")
    assert doc.split == "train" and doc.gold == {"items": rec["items"]}
    bad = write(
        tmp_path / "it/train.jsonl", json.dumps(rec) + "\n" + json.dumps({**rec, "items": {"a": 3}}) + "\n"
    )
    with pytest.raises(ValueError, match=rf"{bad}:2: item value"):
        read("crf_jsonl", tmp_path, "it")


def test_mcq_layouts(tmp_path):
    medqa = {
        "question": "Q?",
        "options": {"A": "a", "B": "b", "C": "c", "D": "d", "E": "e"},
        "answer_idx": "C",
    }
    write(tmp_path / "medqa/test.jsonl", json.dumps(medqa) + "\n")
    (doc,) = read("medqa_jsonl", tmp_path / "medqa")
    assert doc.gold == {"question": "Q?", "choices": list("abcde"), "answer": 2, "context": None}
    official = {
        "id": "x1",
        "question": "Q?",
        "opa": "a",
        "opb": "b",
        "opc": "c",
        "opd": "d",
        "cop": 4,
        "exp": "E",
    }
    write(tmp_path / "medmcqa/train.json", json.dumps(official) + "\n")
    (doc,) = read("medmcqa_json", tmp_path / "medmcqa")
    assert (doc.id, doc.gold["answer"], doc.metadata) == ("x1", 3, {"explanation": "E"})
    exp = {"id": 7, "full_question": "Q?", "options": {"1": "a", "2": "b", "3": "c", "4": "d", "5": None},
           "correct_option": 2, "rag": {"rag_1": "ctx"}, "explanations": "because"}  # fmt: skip
    write(tmp_path / "medexpqa/es/test.jsonl", json.dumps(exp) + "\n")
    (doc,) = read("medexpqa_jsonl", tmp_path / "medexpqa", "es", context_key="rag_1")
    assert doc.gold == {"question": "Q?", "choices": list("abcd"), "answer": 1, "context": "ctx"}
    write(
        tmp_path / "at.jsonl",
        json.dumps({"id": 1, "topic": "t", "text": "Q?", "answers": ["a", "b"], "label": 1}),
    )
    (doc,) = read("admission_jsonl", tmp_path / "at.jsonl")
    assert (doc.split, doc.gold["answer"]) == ("all", 1)


def test_mcq_malformed_records(tmp_path):
    bad = write(
        tmp_path / "test.jsonl",
        '{"question": "Q?", "options": {"A": "a", "B": "b"}, "answer_idx": "A"}\n{oops\n',
    )
    with pytest.raises(ValueError, match=rf"{bad}:2: invalid JSON"):
        read("medqa_jsonl", tmp_path)
    write(bad, '{"question": "Q?", "options": {"A": "a", "B": "b"}, "answer_idx": "F"}\n')
    with pytest.raises(ValueError, match=rf"{bad}:1: answer key 'F'"):
        read("medqa_jsonl", tmp_path)
    rag = write(
        tmp_path / "rag.txt",
        "{'id': 1, 'question': 'Q', 'options': {'1': 'a', '2': 'b'}, 'correct_answer': 1}\n{'id': 2,\n",
    )
    with pytest.raises(ValueError, match=rf"{rag}:2: not a Python dict literal"):
        read("casimedicos_rag", rag)


def test_mmlu_csv_wrong_column_count(tmp_path):
    write(tmp_path / "test/anatomy_test.csv", 'Q1,a,b,c,d,B\n"Q2, with comma",a,b,c,d,A\n')
    docs = read("mmlu_csv", tmp_path)
    assert [(d.text, d.gold["answer"]) for d in docs] == [("Q1", 1), ("Q2, with comma", 0)]
    bad = write(tmp_path / "test/anatomy_test.csv", "Q1,a,b,c,d,B\nQ2,a,b,c,A\n")
    with pytest.raises(ValueError, match=rf"{bad}:2: expected 6 columns"):
        read("mmlu_csv", tmp_path)


def test_pubmedqa_label_mismatch(tmp_path):
    items = {"1": {"QUESTION": "Q?", "CONTEXTS": ["c1", "c2"], "final_decision": "maybe"},
             "2": {"QUESTION": "R?", "CONTEXTS": ["c"], "final_decision": "no"}}  # fmt: skip
    write(tmp_path / "ori_pqal.json", json.dumps(items))
    write(tmp_path / "test_ground_truth.json", json.dumps({"2": "no"}))
    docs = read("pubmedqa", tmp_path)
    assert [(d.id, d.split, d.gold["answer"], d.gold["context"]) for d in docs] == [
        ("1", "train", 2, "c1\nc2"), ("2", "test", 1, "c"),
    ]  # fmt: skip
    write(tmp_path / "test_ground_truth.json", json.dumps({"2": "yes"}))
    with pytest.raises(ValueError, match="pmid 2: test label 'yes'"):
        read("pubmedqa", tmp_path)


def test_casimedicos_arg_quirks_and_unknown_label(tmp_path):
    # IT layout: tab-separated with quality and `corrected` columns; ES: CRLF, space-separated
    it = (
        "QUESTION\tO\t\t\nTYPE:\tO\t\t\n\n"
        "Donna\tB-Premise\tHighQuality\t\ndi\tI-Premise\tHighQuality\tcorrected\n\n"
    )
    write(tmp_path / "IT/train.tsv", it + it.replace("Donna", "Uomo"))
    docs = read("casimedicos_arg", tmp_path, "it")
    assert [(d.id, d.text) for d in docs] == [
        ("train-0000", "QUESTION TYPE:\nDonna di"),
        ("train-0001", "QUESTION TYPE:\nUomo di"),
    ]
    assert docs[0].gold["entities"] == [{"start": 15, "end": 23, "label": "Premise", "text": "Donna di"}]
    (tmp_path / "ES").mkdir()
    (tmp_path / "ES/dev.tsv").write_bytes(
        b"QUESTION O\r\nTYPE: O\r\nEs B-Claim HighQuality\r\ncierto I-Claim\r\n"
    )
    (doc,) = read("casimedicos_arg", tmp_path, "es")
    assert doc.gold["entities"][0]["text"] == "Es cierto" and doc.split == "dev"
    bad = write(tmp_path / "ES/dev.tsv", "QUESTION O\nTYPE: O\nEs B-Major\n")
    with pytest.raises(ValueError, match=rf"{bad}:3: unknown label 'B-Major'"):
        read("casimedicos_arg", tmp_path, "es")


def test_medmcqa_json_key_picks_one_list_of_an_eval_file(tmp_path):
    """The HuatuoGPT-o1 eval file holds one list per benchmark; option `key` picks MedMCQA's."""
    item = {"question": "Q?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "C"}
    path = write(
        tmp_path / "test.json", json.dumps({"MedMCQA_validation": [item], "MedQA_USLME_test": [item, item]})
    )
    (doc,) = read("medmcqa_json", tmp_path, "en", key="MedMCQA_validation")
    assert doc.gold["answer"] == 2 and doc.split == "test"
    with pytest.raises(ValueError, match=rf"{path}: no list under key 'PubMedQA'"):
        read("medmcqa_json", tmp_path, "en", key="PubMedQA")


def test_reasoning_traces_csv_and_jsonl(tmp_path):
    csv_text = (
        'original_question_en,translated_question_th,complex_cot,response\n"Q\nmulti-line",th,"think",ans\n'
    )
    path = tmp_path / "t.csv"
    path.write_text(csv_text, encoding="utf-8-sig")
    assert read_traces(path) == [{"id": "trace-00000", "language": "en", "question": "Q\nmulti-line",
                                  "reasoning": "think", "answer": "ans"}]  # fmt: skip
    path.write_text(csv_text + "Q2,th,think\n", encoding="utf-8-sig")
    with pytest.raises(ValueError, match=rf"{path}:4: row has 4 columns"):
        read_traces(path)
    jl = write(
        tmp_path / "t.jsonl",
        json.dumps({"Question": "Q", "Complex_CoT": "c", "Response": "r", "language": "it"}),
    )
    assert read_traces(jl)[0]["language"] == "it"
    write(jl, json.dumps({"Question": "Q", "Complex_CoT": "", "Response": "r"}))
    with pytest.raises(ValueError, match=rf"{jl}: record 0: missing or empty"):
        read_traces(jl)
