"""Read a model's answer back from its raw completion, in the layout of `pipeline.tasks.answers`.

Parsers never raise: a completion that cannot be read gives the task's empty answer and
`ok=False`, so metrics score it as "no answer" and the failure is counted.

- JSON answers: the first ``{...}`` block (code fences and prose around it are ignored) that is
  valid JSON, else the first *balanced* block that json-repair can mend (single quotes, trailing
  commas, unquoted words); it must then fit the task's layout, with unambiguous type coercion.
- Multiple choice: ``Answer: X`` / ``Conclusion: X`` / ``{"answer": "X"}`` / a lone letter or
  1-based number / the exact text of one option.
- The k-shot QA styles (``qa_answer_only``, ``qa_explain``) are read like ``json``: for an
  explanation, the last ``Answer:`` marker wins.
- ``style="reasoning"`` (RoT): the text after the last ``Conclusion:``; for NER, a comma- or
  semicolon-separated list there is accepted too. Without the marker the whole completion is read.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import json_repair

from pipeline.examples import TASKS
from pipeline.tasks.answers import OPTION_LETTERS

MAX_CANDIDATES = 64  # `{` positions tried per completion
MAX_REPAIR_CHARS = 20_000  # json-repair is only run on blocks up to this size
MAX_MARKERS = 16  # last "Answer:"-like markers tried per completion
MAX_LINE_CHARS = 2_000  # text read after a marker
MAX_DEPTH = 16  # deeper blocks are not answers (the layouts nest at most 3 levels)
PLAIN_STYLES = ("json", "qa_answer_only", "qa_explain")  # answers read without a Conclusion marker
NONE_WORDS = frozenset({"none", "null", "n/a", "-", "[]", "nessuno", "nessuna", "ninguno", "ninguna"})

_CONCLUSION = re.compile(r"conclusion\s*:", re.IGNORECASE)
_MARKER = re.compile(
    r"(?:answer|conclusion|risposta|respuesta|réponse)(?:\s+is)?\s*[:：]?\s*(?:option\s+)?", re.IGNORECASE
)
_AFTER_MARKER = re.compile(r"\(?([A-Za-z]|\d{1,2})([).:\]]|\s|$)")
_LONE = re.compile(r"\(?([A-Za-z]|\d{1,2})[).:\]]?$")
_LEADING = re.compile(r"\(?([A-Z]|\d{1,2})[).:\]]\s")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Parsed:
    """A parsed answer in the task's layout; `ok` is False when the completion could not be read."""

    answer: dict[str, Any]
    ok: bool
    error: str | None = None


def empty_answer(task: str) -> dict[str, Any]:
    """The answer of a model that says nothing: what a parse failure scores as."""
    if task == "ner":
        return {"entities": []}
    if task == "re":
        return {"relations": []}
    if task == "qa":
        return {"answer": None}
    if task == "crf":
        return {"items": {}}
    if task == "argmining":
        return {"claims": [], "premises": []}
    raise ValueError(f"unknown task {task!r} (expected one of {TASKS})")


def parse_completion(
    task: str, completion: Any, style: str = "json", choices: list[str] | None = None
) -> Parsed:
    """Parse one completion of `task` (`choices` are the option texts, for qa)."""
    empty = empty_answer(task)
    if not isinstance(completion, str):
        return Parsed(empty, False, "completion is not a string")
    text = completion.replace("\x00", "")
    if style == "reasoning":
        conclusion = _after_last_conclusion(text)
        if conclusion is not None:
            return _parse_conclusion(task, conclusion, choices or [])
    elif style not in PLAIN_STYLES:
        return Parsed(empty, False, f"unknown style {style!r}")
    if task == "qa":
        return _choice_result(parse_choice(text, choices or []))
    return _json_result(task, text)


def parse_record(record: dict[str, Any]) -> Parsed:
    """Parse a prediction record (``task``, ``style``, ``completion``; qa choices from ``example_gold``)."""
    example_gold = record.get("example_gold")
    choices = example_gold.get("choices") if isinstance(example_gold, dict) else None
    return parse_completion(
        record["task"], record.get("completion"), record.get("style", "json"), choices or None
    )


def _after_last_conclusion(text: str) -> str | None:
    matches = list(_CONCLUSION.finditer(text))
    return text[matches[-1].end() :].strip() if matches else None


def _parse_conclusion(task: str, conclusion: str, choices: list[str]) -> Parsed:
    if task == "qa":
        return _choice_result(parse_choice(conclusion, choices))
    if task == "ner" and "{" not in conclusion:
        return _entity_list(conclusion)
    return _json_result(task, conclusion)


def _entity_list(conclusion: str) -> Parsed:
    line = next((ln.strip() for ln in conclusion.splitlines() if ln.strip()), "")
    if not line:
        return Parsed(empty_answer("ner"), False, "empty conclusion")
    if line.rstrip(".").strip().lower() in NONE_WORDS:
        return Parsed({"entities": []}, True)
    if line.startswith("[") and line.endswith("]"):
        line = line[1:-1]
    entities = [p.strip().strip("\"'`").strip() for p in re.split(r"[,;]", line)]
    return Parsed({"entities": [e for e in entities if e]}, True)


def _json_result(task: str, text: str) -> Parsed:
    obj = extract_json_object(text, lambda o: coerce_answer(task, o) is not None)
    if obj is None:
        return Parsed(empty_answer(task), False, "no JSON object in the answer layout")
    answer = coerce_answer(task, obj)
    assert answer is not None  # guaranteed by the predicate
    return Parsed(answer, True)


def _choice_result(letter: str | None) -> Parsed:
    if letter is None:
        return Parsed(empty_answer("qa"), False, "no option found")
    return Parsed({"answer": letter}, True)


def _balanced_end(text: str, start: int) -> int | None:
    """Index just past the `}` closing the `{` at `start` (quotes respected), or None."""
    depth, quote, escaped = 0, "", False
    for i in range(start, min(len(text), start + MAX_REPAIR_CHARS)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            depth += 1
            if depth > MAX_DEPTH:
                return None
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1 if ch == "}" else None
    return None


def extract_json_object(text: str, accept: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The first ``{...}`` block of `text` that is a JSON object satisfying `accept`; strict JSON is
    preferred, then a json-repaired block. Only balanced blocks are tried, so truncated output fails."""
    starts = [m.start() for m in itertools.islice(re.finditer(r"\{", text), MAX_CANDIDATES)]
    blocks = [text[s:e] for s in starts if (e := _balanced_end(text, s)) is not None]
    for loads in (json.loads, json_repair.loads):
        for block in blocks:
            try:
                obj = loads(block)
            except (ValueError, RecursionError):
                continue
            if isinstance(obj, dict) and accept(obj):
                return obj
    return None


def _field(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    """(found, value) for `key`, matched case-insensitively when unambiguous."""
    if key in obj:
        return True, obj[key]
    hits = [k for k in obj if isinstance(k, str) and k.strip().lower() == key]
    return (True, obj[hits[0]]) if len(hits) == 1 else (False, None)


def _as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _str_list(value: Any) -> list[str] | None:
    """A list of strings: null is [], a lone string is a list of one, a span object gives its text."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            item = item["text"]
        s = _as_str(item)
        if s is None:
            return None
        out.append(s)
    return out


def _relations(value: Any) -> list[dict[str, str]] | None:
    if value is None:
        return []
    if not isinstance(value, list):
        return None
    out = []
    for rel in value:
        if not isinstance(rel, dict):
            return None
        fields = {k: _as_str(_field(rel, k)[1]) for k in ("head", "relation", "tail")}
        if any(v is None for v in fields.values()):
            return None
        out.append(fields)
    return out


def _crf_items(value: Any) -> dict[str, str | None] | None:
    if value is None:
        return {}
    if not isinstance(value, dict):
        return None
    out: dict[str, str | None] = {}
    for name, v in value.items():
        s = None if v is None else _as_str(v)
        if v is not None and s is None:
            return None
        out[str(name)] = s
    return out


def coerce_answer(task: str, obj: Any) -> dict[str, Any] | None:
    """`obj` in the task's answer layout, or None when it does not fit unambiguously."""
    if not isinstance(obj, dict):
        return None
    if task == "ner":
        found, value = _field(obj, "entities")
        entities = _str_list(value) if found else None
        return None if entities is None else {"entities": entities}
    if task == "re":
        found, value = _field(obj, "relations")
        relations = _relations(value) if found else None
        return None if relations is None else {"relations": relations}
    if task == "crf":
        found, value = _field(obj, "items")
        items = _crf_items(value) if found else None
        return None if items is None else {"items": items}
    if task == "argmining":
        (has_c, claims), (has_p, premises) = _field(obj, "claims"), _field(obj, "premises")
        if not (has_c or has_p):
            return None
        c, p = _str_list(claims), _str_list(premises)
        return None if c is None or p is None else {"claims": c, "premises": p}
    return None


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().rstrip(".").strip().casefold()


def _to_letter(token: str, n_choices: int) -> str | None:
    """ "B"/"b" or a 1-based number "2" as an option letter within the option count."""
    index = int(token) - 1 if token.isdigit() else OPTION_LETTERS.find(token.upper())
    return OPTION_LETTERS[index] if 0 <= index < n_choices else None


def _option_text(text: str, choices: list[str]) -> str | None:
    norm = _norm(text)
    hits = [i for i, c in enumerate(choices) if isinstance(c, str) and norm and _norm(c) == norm]
    return OPTION_LETTERS[hits[0]] if len(hits) == 1 else None


def _after_marker(line: str, n: int, choices: list[str]) -> str | None:
    """The option named right after "Answer:": "B", "(B)", "B. text", "b)", "2", or an option's text."""
    m = _AFTER_MARKER.match(line)
    # a lowercase letter followed by a space is an article ("a fracture"), not an option
    if m and not (m.group(1).islower() and m.group(2).isspace()):
        letter = _to_letter(m.group(1), n)
        if letter is not None:
            return letter
    return _option_text(line, choices)


def parse_choice(text: str, choices: list[str]) -> str | None:
    """The option letter a completion picks among `choices` (any option letter if none given), or None."""
    n = min(len(choices) if choices else len(OPTION_LETTERS), len(OPTION_LETTERS))
    if "{" in text:
        obj = extract_json_object(text, lambda o: _field(o, "answer")[0])
        value = _field(obj, "answer")[1] if obj is not None else None
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            letter = _after_marker(str(value).strip(), n, choices)
            if letter is not None:
                return letter
    for marker in list(_MARKER.finditer(text))[-MAX_MARKERS:][::-1]:
        line = text[marker.end() : marker.end() + MAX_LINE_CHARS].split("\n", 1)[0]
        letter = _after_marker(line.strip(), n, choices)
        if letter is not None:
            return letter
    stripped = text.strip()
    m = _LONE.match(stripped) or _LEADING.match(stripped)
    if m:
        return _to_letter(m.group(1), n)
    return _option_text(stripped, choices)
