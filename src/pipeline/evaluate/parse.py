"""Read a model's answer back from its raw completion, in the layout of `pipeline.tasks.answers`.

Parsers never raise: a completion that cannot be read gives the task's empty answer and
`ok=False`, so metrics score it as "no answer" and the failure is counted.

Every completion is first cut where the model starts inventing the next item of a k-shot prompt
(`pipeline.tasks.prompts.stop_sequences`: ``\\nQuestion:``, ``\\nText:``, ``<question>``, ...): the
same strings the backends stop at, applied again so that completions from before the stop
sequences (or a backend that overshoots) read the same. Then, in the **first** answer it gives:

- JSON answers: the first ``{...}`` block (code fences and prose around it are ignored) that is
  valid JSON and fits the task's layout, else the first *balanced* block that json-repair can
  mend (single quotes, trailing commas, unquoted words). Two readings exist (`PARSE_MODES`):
  ``strict`` is the layout the prompts teach (with unambiguous coercions); ``lenient`` also reads
  the near-miss layouts real models write (entity objects with a ``name``/``entity``/... field, a
  wrapper object such as ``{"type": "json", "data": ...}``, whose data may be the entity list).
- Multiple choice: the first ``Answer: X`` / ``Conclusion: X`` / ``the answer is X`` /
  ``Option X`` / ``{"answer": "X"}`` (also cut before its closing brace) in the text, markdown
  emphasis ignored; else a first line that is a lone letter, ``B. <that option's text>`` or the
  text of one option. An echoed layout example (``Example: {"answer": "A"}``) and an echoed option
  list (``A. ...\\nB. ...``) are not answers.
- ``style="reasoning"`` (RoT): the text after the last ``Conclusion:`` of the (cut) completion,
  the end of the trained format; for NER, a comma- or semicolon-separated list there is accepted
  too. Without the marker the whole completion is read.

Cost is linear in the completion's length: one pass finds every balanced block, strict JSON is
tried on blocks of bounded depth, and json-repair runs on at most `MAX_REPAIRS` blocks of at most
`MAX_REPAIR_CHARS` characters that name a layout key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import json_repair

from pipeline.examples import TASKS
from pipeline.tasks.answers import OPTION_LETTERS
from pipeline.tasks.prompts import STYLES, stop_sequences

PARSE_MODES = ("strict", "lenient")
MAX_DEPTH = 16  # blocks nested deeper are not answers (the layouts nest at most 3 levels)
MAX_REPAIRS = 2  # json-repair calls per completion
MAX_REPAIR_CHARS = 2_000  # json-repair only mends blocks up to this size
MAX_MARKERS = 64  # "Answer:"-like markers tried per completion
MAX_LINE_CHARS = 300  # text read after a marker
NONE_WORDS = frozenset({"none", "null", "n/a", "-", "[]", "nessuno", "nessuna", "ninguno", "ninguna"})
LAYOUT_KEYS = ("entities", "relations", "items", "claims", "premises", "answer")
ENTITY_TEXT_KEYS = ("text", "name", "entity", "mention", "span", "term", "value")  # lenient
ENTITY_TYPE_KEYS = ("type", "label")
WRAPPER_DEPTH = 3  # lenient: wrapper objects unwrapped at most this deep

_RUN_ON = {style: re.compile("|".join(map(re.escape, stop_sequences(style)))) for style in STYLES}
_CONCLUSION = re.compile(r"conclusion\s*:", re.IGNORECASE)
_EMPHASIS = re.compile(r"\*\*|__|\*")
_MARKER = re.compile(
    r"\b(?:(?:the\s+)?(?:correct\s+|right\s+|final\s+)?"
    r"(?P<word>answer|conclusion|risposta|respuesta|réponse|option|opzione|opción|choice)"
    r"(?:\s+(?:is|è|es))?|it\s+is|it's)\s*[:：]?\s*",
    re.IGNORECASE,
)
_OPTION_WORDS = frozenset({"option", "opzione", "opción", "choice"})
_AFTER_MARKER = re.compile(r"\(?([A-Za-z]|\d{1,2})(?:([).:\],;!])|(\s)|$)")
_AFTER_OPTION_WORD = re.compile(r"\(?([A-Za-z]|\d{1,2})\)?\s*(?:[.,;:!]|$)")
_LONE = re.compile(r"\(?([A-Za-z]|\d{1,2})[).:\]]?$")
_LEADING = re.compile(r"\(?([A-Z]|\d{1,2})[).:\]]\s+(.*)$")
_OPTION_LINE = re.compile(r"^\s*\(?[A-Z][).:\]]\s", re.MULTILINE)
_JSON_ANSWER = re.compile(r"""["']answer["']\s*:\s*(?:["']\s*([^"'\n]{1,200})|(\d{1,2})\b)""", re.IGNORECASE)
_ECHO = re.compile(r"(?:example|esempio|ejemplo|e\.g\.|format|formato)\s*:?\s*$", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_STRUCTURE = re.compile(r"[{}\[\]\"'\\]")


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


def cut_run_on(text: str, style: str) -> str:
    """`text` up to where the model starts a new item of its own (`stop_sequences(style)`)."""
    match = _RUN_ON[style].search(text)
    return text[: match.start()] if match else text


def parse_completion(
    task: str, completion: Any, style: str = "json", choices: list[str] | None = None, mode: str = "strict"
) -> Parsed:
    """Parse one completion of `task` (`choices` are the option texts, for qa) in a `PARSE_MODES` mode."""
    empty = empty_answer(task)
    if not isinstance(completion, str):
        return Parsed(empty, False, "completion is not a string")
    if mode not in PARSE_MODES:
        return Parsed(empty, False, f"unknown parse mode {mode!r}")
    if style not in STYLES:
        return Parsed(empty, False, f"unknown style {style!r}")
    text = cut_run_on(completion.replace("\x00", "").replace("\r\n", "\n"), style)
    if style == "reasoning":
        conclusion = _after_last_conclusion(text)
        if conclusion is not None:
            return _parse_conclusion(task, conclusion, choices or [], mode)
    if task == "qa":
        return _choice_result(parse_choice(text, choices or []))
    return _json_result(task, text, mode)


def parse_record(record: dict[str, Any], mode: str = "strict") -> Parsed:
    """Parse a prediction record (``task``, ``style``, ``completion``; qa choices from ``example_gold``)."""
    example_gold = record.get("example_gold")
    choices = example_gold.get("choices") if isinstance(example_gold, dict) else None
    return parse_completion(
        record["task"], record.get("completion"), record.get("style", "json"), choices or None, mode
    )


def _after_last_conclusion(text: str) -> str | None:
    last = None
    for last in _CONCLUSION.finditer(text):  # noqa: B007 - the last match is wanted
        pass
    return text[last.end() :].strip() if last else None


def _parse_conclusion(task: str, conclusion: str, choices: list[str], mode: str) -> Parsed:
    if task == "qa":
        return _choice_result(parse_choice(conclusion, choices))
    if task == "ner" and "{" not in conclusion:
        return _entity_list(conclusion)
    return _json_result(task, conclusion, mode)


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


def _json_result(task: str, text: str, mode: str) -> Parsed:
    lenient = mode == "lenient"
    obj = extract_json_object(text, lambda o: coerce_answer(task, o, lenient) is not None, lenient)
    if obj is None:
        return Parsed(empty_answer(task), False, "no JSON object in the answer layout")
    answer = coerce_answer(task, obj, lenient)
    assert answer is not None  # guaranteed by the predicate
    return Parsed(answer, True)


def _choice_result(letter: str | None) -> Parsed:
    if letter is None:
        return Parsed(empty_answer("qa"), False, "no option found")
    return Parsed({"answer": letter}, True)


# --- JSON blocks ---------------------------------------------------------------------------------


def balanced_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of every balanced ``{...}`` block nested at most `MAX_DEPTH` deep, by start.

    One pass over the structural characters. Quotes count only inside braces; a single quote opens
    a string only where a JSON value or key may start, so prose apostrophes do not swallow text.
    """
    blocks: list[tuple[int, int]] = []
    stack: list[tuple[str, int, int]] = []  # (bracket, position, deepest nesting below it)
    quote, escaped_at = "", -1
    for match in _STRUCTURE.finditer(text):
        i, ch = match.start(), match.group()
        if quote:
            if i == escaped_at:
                continue
            if ch == "\\":
                escaped_at = i + 1
            elif ch == quote:
                quote = ""
        elif stack and (ch == '"' or (ch == "'" and _previous_char(text, i) in ("{", "[", ",", ":"))):
            quote = ch
        elif ch in "{[":
            stack.append((ch, i, 0))
        elif ch in "}]" and stack:
            opener, start, below = stack.pop()
            if (opener == "{") != (ch == "}"):
                stack.clear()  # mismatched brackets: nothing open so far can balance
                continue
            if opener == "{" and below < MAX_DEPTH:
                blocks.append((start, i + 1))
            if stack:
                top = stack[-1]
                stack[-1] = (top[0], top[1], max(top[2], below + 1))
    return sorted(blocks)


def _previous_char(text: str, i: int) -> str:
    """The last non-space character before `i` ("" at the start)."""
    j = i - 1
    while j >= 0 and text[j].isspace():
        j -= 1
    return text[j] if j >= 0 else ""


def extract_json_object(
    text: str, accept: Callable[[dict[str, Any]], bool], lenient: bool = False
) -> dict[str, Any] | None:
    """The first ``{...}`` block of `text` that is a JSON object satisfying `accept`.

    Strict JSON is preferred, then a json-repaired block (at most `MAX_REPAIRS` blocks of at most
    `MAX_REPAIR_CHARS` that name a layout key). Only balanced blocks are tried, so truncated output
    fails. With `lenient`, the objects inside an accepted-nowhere block are offered too (wrappers).
    """
    blocks = balanced_blocks(text)
    covered_until = -1
    failed: list[tuple[int, int]] = []
    for start, end in blocks:
        if start < covered_until:
            continue  # inside a block that already parsed: its objects were offered with it
        try:
            obj = json.loads(text[start:end])
        except (ValueError, RecursionError):
            failed.append((start, end))
            continue
        covered_until = end
        for candidate in _objects(obj, lenient):
            if accept(candidate):
                return candidate
    repairs = 0
    for start, end in failed:
        if repairs >= MAX_REPAIRS:
            break
        block = text[start:end]
        if end - start > MAX_REPAIR_CHARS or not _names_layout_key(block):
            continue
        repairs += 1
        try:
            obj = json_repair.loads(block)
        except (ValueError, RecursionError):
            continue
        for candidate in _objects(obj, lenient):
            if accept(candidate):
                return candidate
    return None


def _names_layout_key(block: str) -> bool:
    lowered = block.lower()
    return any(key in lowered for key in LAYOUT_KEYS)


def _objects(obj: Any, lenient: bool) -> Iterator[Any]:
    """`obj`, then (with `lenient`) the objects and lists nested in it, outermost first."""
    yield obj
    if not lenient:
        return
    level = [obj]
    for _ in range(WRAPPER_DEPTH):
        inner = [v for o in level if isinstance(o, dict) for v in o.values() if isinstance(v, (dict, list))]
        inner += [v for o in level if isinstance(o, list) for v in o if isinstance(v, dict)]
        yield from inner
        level = inner


# --- layouts -------------------------------------------------------------------------------------


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


def _entity(item: Any, lenient: bool) -> str | dict[str, str] | None:
    """A surface form, or ``{"text", "type"}`` for a typed entity object; None when unreadable."""
    if not isinstance(item, dict):
        return _as_str(item)
    keys = ENTITY_TEXT_KEYS if lenient else ENTITY_TEXT_KEYS[:1]
    text = next((s for k in keys if (s := _as_str(_field(item, k)[1])) is not None), None)
    if text is None:
        return None
    kind = next((s for k in ENTITY_TYPE_KEYS if isinstance(s := _field(item, k)[1], str)), None)
    return text if kind is None else {"text": text, "type": kind}


def _entities(value: Any, lenient: bool) -> list[Any] | None:
    """Entities: null is [], a lone string is a list of one, an entity object gives its text (and type)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return None
    out = [_entity(item, lenient) for item in value]
    return None if any(e is None for e in out) else out


def _str_list(value: Any, lenient: bool) -> list[str] | None:
    entities = _entities(value, lenient)
    if entities is None:
        return None
    return [e["text"] if isinstance(e, dict) else e for e in entities]


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


def coerce_answer(task: str, obj: Any, lenient: bool = False) -> dict[str, Any] | None:
    """`obj` in the task's answer layout, or None when it does not fit unambiguously.

    With `lenient`, a list (the value of a wrapper object) is read as the entities of a NER answer.
    """
    if task == "ner" and lenient and isinstance(obj, list):
        entities = _entities(obj, lenient)
        return None if entities is None else {"entities": entities}
    if not isinstance(obj, dict):
        return None
    if task == "ner":
        found, value = _field(obj, "entities")
        entities = _entities(value, lenient) if found else None
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
        c, p = _str_list(claims, lenient), _str_list(premises, lenient)
        return None if c is None or p is None else {"claims": c, "premises": p}
    return None


# --- multiple choice -----------------------------------------------------------------------------


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


def _after_marker(line: str, n: int, choices: list[str], option_word: bool = False) -> str | None:
    """The option named right after a marker: "B", "(B)", "B. text", "b)", "2", or an option's text."""
    if option_word:  # "Option C." names C; "Option A is wrong" names nothing
        m = _AFTER_OPTION_WORD.match(line)
        return _to_letter(m.group(1), n) if m else None
    m = _AFTER_MARKER.match(line)
    # a lowercase letter followed by a space is an article ("a fracture"), not an option
    if m and not (m.group(1).islower() and m.group(3)):
        letter = _to_letter(m.group(1), n)
        if letter is not None:
            return letter
    return _option_text(line, choices)


def _json_answers(text: str, n: int, choices: list[str]) -> Iterator[tuple[int, str]]:
    """(position, letter) of every ``"answer": X`` (closed or not) that is not an echoed example."""
    for m in _JSON_ANSWER.finditer(text):
        brace = text.rfind("{", 0, m.start())
        line_start = text.rfind("\n", 0, brace) + 1
        if brace >= 0 and _ECHO.search(text[line_start:brace]):
            continue
        value = (m.group(1) or m.group(2) or "").strip()
        letter = _after_marker(value, n, choices)
        if letter is not None:
            yield m.start(), letter


def _marked_answers(text: str, n: int, choices: list[str]) -> Iterator[tuple[int, str]]:
    for count, marker in enumerate(_MARKER.finditer(text)):
        if count >= MAX_MARKERS:
            return
        line = text[marker.end() : marker.end() + MAX_LINE_CHARS].split("\n", 1)[0].strip()
        word = (marker.group("word") or "").lower()
        letter = _after_marker(line, n, choices, word in _OPTION_WORDS)
        if letter is not None:
            yield marker.start(), letter


def _first_line(text: str) -> tuple[int, str]:
    """(position, stripped text) of the first non-blank line."""
    m = re.search(r"\S[^\n]*", text)
    return (m.start(), m.group().strip()) if m else (len(text), "")


def _lone_letter(text: str, n: int) -> Iterator[tuple[int, str]]:
    """A first line that is a lone option letter or number ("C", "(b)", "2.")."""
    position, first = _first_line(text)
    m = _LONE.match(first)
    letter = _to_letter(m.group(1), n) if m else None
    if letter is not None:
        yield position, letter


def _option_named(text: str, n: int, choices: list[str]) -> str | None:
    """A first line ``B. <option B's text>``, or one option's text; an echoed option list is no answer."""
    if len(_OPTION_LINE.findall(text, 0, 4 * MAX_LINE_CHARS)) >= 2:
        return None
    _, first = _first_line(text)
    m = _LEADING.match(first)
    if m:
        letter = _to_letter(m.group(1), n)
        if letter is not None and (not choices or _norm(m.group(2)) == _norm(choices[ord(letter) - 65])):
            return letter
    return _option_text(first, choices) or _option_text(text, choices)


def parse_choice(text: str, choices: list[str]) -> str | None:
    """The option letter a completion picks first among `choices` (any letter if none given), or None."""
    n = min(len(choices) if choices else len(OPTION_LETTERS), len(OPTION_LETTERS))
    text = _EMPHASIS.sub("", text)
    found = [*_json_answers(text, n, choices), *_marked_answers(text, n, choices), *_lone_letter(text, n)]
    if found:
        return min(found)[1]
    return _option_named(text, n, choices)
