"""Multiple-choice QA in its native layouts: MedQA JSONL, MedMCQA JSON(L), MMLU CSV,
Italian admission tests JSONL, CasiMedicos-RAG dict lines and MedExpQA JSONL.

Each question is one document with gold `{question, choices, answer, context}`
(`answer` is the 0-based index of the right choice).
"""

from __future__ import annotations

import ast
import csv
import io
import json
from pathlib import Path
from typing import Any

from pipeline.io import iter_jsonl
from pipeline.tasks.readers.base import (
    UNSPLIT,
    Document,
    nonempty,
    read_lines,
    read_text,
    record_of,
    require,
    split_dirs,
    where,
)


def question(
    doc_id: str,
    language: str,
    split: str,
    text: str,
    choices: list[str],
    answer: int,
    at: str,
    context: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Document:
    """A validated MCQ document; `at` names the file and record for errors."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{at}: empty or missing question text")
    if len(choices) < 2 or not all(isinstance(c, str) for c in choices):
        raise ValueError(f"{at}: expected at least two string options, got {choices!r}")
    if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
        raise ValueError(f"{at}: answer {answer!r} is not one of the {len(choices)} options")
    gold = {"question": text, "choices": choices, "answer": answer, "context": context}
    return Document(doc_id, language, split, text, gold, metadata or {})


def lettered(options: Any, key: Any, at: str) -> tuple[list[str], int]:
    """Choices of an `{"A": ..., "B": ...}` (or `{"1": ...}`) mapping and the index of `key`."""
    if not isinstance(options, dict) or not options:
        raise ValueError(f"{at}: 'options' must be a non-empty mapping, got {type(options).__name__}")
    keys = sorted(options, key=lambda k: (len(str(k)), str(k)))
    if str(key) not in [str(k) for k in keys]:
        raise ValueError(f"{at}: answer key {key!r} is not among the options {keys}")
    return [options[k] for k in keys], [str(k) for k in keys].index(str(key))


def present(options: Any) -> Any:
    """Options without null entries (CasiMedicos 4-option questions carry `'5': None`)."""
    return {k: v for k, v in options.items() if v is not None} if isinstance(options, dict) else options


def field(record: dict[str, Any], key: str, at: str) -> Any:
    """`record[key]`; a record that is not an object, or lacks `key`, raises ValueError naming `at`."""
    if key not in record_of(record, at):
        raise ValueError(f"{at}: missing key {key!r} (keys: {sorted(record)})")
    return record[key]


def _files(
    root: Path, language: str, options: dict[str, Any], default: dict[str, str]
) -> list[tuple[str, Path]]:
    """Split files under `root`; a single-file root is one unsplit (`all`) file."""
    if root.is_file():
        return [(UNSPLIT, root)]
    return require(split_dirs(root, language, options, default), root, language)


def read_medqa(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """MedQA JSONL: `{question, options{A..E}, answer_idx, answer?, meta_info?, explanation?}`."""
    docs = []
    default = {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl"}
    for split, path in _files(root, language, options, default):
        for lineno, rec in records(path):
            at = where(path, lineno)
            choices, answer = lettered(field(rec, "options", at), field(rec, "answer_idx", at), at)
            meta = {k: rec[k] for k in ("meta_info", "explanation") if k in rec}
            doc_id = str(rec.get("id", f"{split}-{lineno:06d}"))
            docs.append(
                question(doc_id, language, split, field(rec, "question", at), choices, answer, at, None, meta)
            )
    return docs


def records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line, record) of a JSONL split file; a file without records is an error."""
    found = list(iter_jsonl(path))
    nonempty(found, path, "questions")
    return found


def _single_list(path: Path, key: str | None = None) -> list[dict[str, Any]] | None:
    """The one list (or the list under `key`) of a whole-file JSON object; None when the file is JSONL."""
    try:
        obj = json.loads(read_text(path))
    except (json.JSONDecodeError, RecursionError):
        return None  # JSONL (or broken): read line by line, which names the line
    if key is not None:
        if not isinstance(obj, dict) or not isinstance(obj.get(key), list):
            raise ValueError(f"{path}: no list under key {key!r} (option `key`)")
        return obj[key]
    lists = [v for v in obj.values() if isinstance(v, list)] if isinstance(obj, dict) else []
    return lists[0] if len(lists) == 1 else None


def read_medmcqa(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """MedMCQA: the official JSONL (`question, opa..opd, cop` 1-based, `exp`, `id`) or a JSON
    object holding one list of `{question, options{A..D}, answer_idx}` (HuatuoGPT eval layout;
    option `key` picks the list of an object holding several, e.g. `MedMCQA_validation`)."""
    docs = []
    default = {"train": "train.json", "dev": "dev.json", "test": "test.json"}
    for split, path in _files(root, language, options, default):
        lists = _single_list(path, options.get("key"))
        if lists is not None:
            nonempty(lists, path, "questions")
            for i, rec in enumerate(lists):
                at = f"{path}: record {i}"
                choices, answer = lettered(field(rec, "options", at), field(rec, "answer_idx", at), at)
                docs.append(
                    question(
                        f"{split}-{i:06d}", language, split, field(rec, "question", at), choices, answer, at
                    )
                )
            continue
        base = int(options.get("cop_base", 1))
        for lineno, rec in records(path):
            at = where(path, lineno)
            choices = [field(rec, k, at) for k in ("opa", "opb", "opc", "opd")]
            meta = {"explanation": rec["exp"]} if rec.get("exp") else {}
            doc_id = str(rec.get("id", f"{split}-{lineno:06d}"))
            cop = field(rec, "cop", at)
            if isinstance(cop, bool) or not isinstance(cop, int):
                raise ValueError(f"{at}: 'cop' must be an integer option number, got {cop!r}")
            answer = cop - base
            docs.append(
                question(doc_id, language, split, field(rec, "question", at), choices, answer, at, None, meta)
            )
    return docs


def read_admission(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """Italian admission tests JSONL: `{id, topic, text, answers[5], label}` (0-based label)."""
    docs = []
    for split, path in _files(root, language, options, {UNSPLIT: "medical_school_questions.jsonl"}):
        for lineno, rec in records(path):
            at = where(path, lineno)
            answers, label = field(rec, "answers", at), field(rec, "label", at)
            meta = {"topic": rec["topic"]} if "topic" in rec else {}
            doc_id = str(rec.get("id", lineno))
            docs.append(
                question(doc_id, language, split, field(rec, "text", at), answers, label, at, None, meta)
            )
    return docs


def read_mmlu(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """MMLU headerless CSV `question,A,B,C,D,answer` in `<split dir>/<subject>_<dir>.csv`.

    `options.subjects` picks subjects (default: all); `options.splits` maps our splits to the
    MMLU folders (default train←dev, dev←val, test←test: `train` holds the 5 shots per subject
    lm-eval draws its few-shot examples from, the default `fewshot_split` of the loglik stage).
    """
    docs = []
    subjects = options.get("subjects")
    for split, folder in require(
        split_dirs(root, language, options, {"train": "dev", "dev": "val", "test": "test"}), root, language
    ):
        for path in sorted(folder.glob("*.csv")):
            subject = path.stem.rsplit("_", 1)[0]
            if subjects is not None and subject not in subjects:
                continue
            rows = csv_rows(path)
            nonempty(rows, path, "questions")
            for i, (lineno, row) in enumerate(rows):
                at = where(path, lineno)
                if len(row) != 6:
                    raise ValueError(f"{at}: expected 6 columns (question, A-D, answer), got {len(row)}")
                choices, answer = lettered(dict(zip("ABCD", row[1:5], strict=True)), row[5].strip(), at)
                doc_id = f"{subject}-{folder.name}-{i:04d}"  # rows restart at 0 in each split folder
                docs.append(
                    question(doc_id, language, split, row[0], choices, answer, at, None, {"subject": subject})
                )
    return docs


def csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line, row) of a CSV file; a file cut inside a quoted field raises ValueError naming the line."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as err:
        raise ValueError(f"{where(path, reader.line_num)}: broken CSV ({err})") from None
    return rows


def read_casimedicos_rag(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """CasiMedicos-RAG lines, one Python dict literal each:
    `{id, question, options{'1'..'5'}, correct_answer (1-based), bm25[passages]}`; context = the passages."""
    docs = []
    for split, path in _files(root, language, options, {UNSPLIT: "bm25_rag.txt"}):
        lines = [(n, line) for n, line in enumerate(read_lines(path), start=1) if line.strip()]
        nonempty(lines, path, "questions")
        for lineno, line in lines:
            at = where(path, lineno)
            try:
                rec = ast.literal_eval(line)
            except (ValueError, SyntaxError, RecursionError, MemoryError) as err:
                raise ValueError(f"{at}: not a Python dict literal ({type(err).__name__}: {err})") from None
            if not isinstance(rec, dict):
                raise ValueError(f"{at}: expected a dict literal")
            choices, answer = lettered(
                present(field(rec, "options", at)), field(rec, "correct_answer", at), at
            )
            passages = rec.get("bm25") or []
            if not isinstance(passages, list) or not all(isinstance(p, str) for p in passages):
                raise ValueError(f"{at}: 'bm25' must be a list of passages (strings)")
            context = "\n\n".join(passages) if passages else None
            doc_id = str(rec.get("id", lineno))
            docs.append(
                question(doc_id, language, split, field(rec, "question", at), choices, answer, at, context)
            )
    return docs


def read_medexpqa(root: Path, language: str, options: dict[str, Any]) -> list[Document]:
    """MedExpQA JSONL (HiTZ/MedExpQA export): `{id, full_question, options{'1'..'5'}, correct_option,
    explanations?, <context_field>}`; the context field (default `rag`) is a string, a list of
    strings, or a mapping whose `options.context_key` entry is used."""
    docs = []
    default = {s: f"{{lang}}/{s}.jsonl" for s in ("train", "dev", "test")}
    key, ctx_key = options.get("context_field", "rag"), options.get("context_key")
    for split, path in _files(root, language, options, default):
        for lineno, rec in records(path):
            at = where(path, lineno)
            choices, answer = lettered(
                present(field(rec, "options", at)), field(rec, "correct_option", at), at
            )
            context = rec.get(key)
            if isinstance(context, dict):
                context = field(context, ctx_key, f"{at} ({key})") if ctx_key else None
            if isinstance(context, list) and all(isinstance(c, str) for c in context):
                context = "\n\n".join(context)
            if context is not None and not isinstance(context, str):
                raise ValueError(f"{at}: '{key}' must be a string, a list of strings or a mapping")
            meta = {"explanation": rec["explanations"]} if rec.get("explanations") else {}
            text = rec.get("full_question", rec.get("question"))
            doc_id = str(rec.get("id", f"{split}-{lineno:06d}"))
            docs.append(question(doc_id, language, split, text, choices, answer, at, context, meta))
    return docs
