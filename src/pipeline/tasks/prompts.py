"""User-message prompts and completions for the five tasks (chat templates are applied elsewhere).

Styles:

- ``json`` (IT, the thesis format): task description, rules, output format with a layout example,
  then the input; the completion is `gold_answer` as JSON.
- ``reasoning`` (RoT): ``<question> … </question> <possible answers> … </possible answers>``; the
  completion is the reasoning, then a final line ``Conclusion: <answer>``.
- ``qa_answer_only`` / ``qa_explain``: 0- or k-shot multiple choice ending in ``Answer:`` /
  ``Explanation:``.

The sub-task's entity labels come from ``metadata["labels"]`` (else the sub-task name) and its
relation types from ``metadata["relations"]`` (required for re: the answer must use those exact
strings), never from the example's gold, so that every example of a sub-task gets the same prompt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pipeline.examples import Example
from pipeline.tasks.answers import gold_answer, is_typed, option_letter
from pipeline.tasks.templates import (
    ENTITY_ALIASES,
    ENTITY_DESCRIPTIONS,
    FALLBACK_LANGUAGE,
    RELATION_ALIASES,
    RELATION_DESCRIPTIONS,
    STRINGS,
    Strings,
    describe,
    normalise_language,
)

ANSWER_PREFIX = "Answer:"
CONCLUSION_PREFIX = "Conclusion:"
STYLES = ("json", "reasoning", "qa_answer_only", "qa_explain")
CUED_STYLES = ("qa_answer_only", "qa_explain")  # prompts that end in their own cue (no answer header)
LETTER_PLACEHOLDER = "X"  # the option letter in layout examples: no real option is suggested


def clean_text(text: str) -> str:
    """Document text as prompts show it: Windows and old-Mac line endings become ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def stop_sequences(style: str) -> tuple[str, ...]:
    """Where a completion in `style` ends: the start of a next item a model invents after its answer.

    The backends stop generating there (`pipeline.evaluate.backends`) and the parser cuts there too.
    """
    if style in CUED_STYLES:
        labels = {f"\n{s.question_label}:" for s in STRINGS.values()}
        labels |= {f"\n{s.context_label}:" for s in STRINGS.values()}
        return tuple(sorted(labels))
    if style == "json":
        labels = {f"\n{s.text_label}:" for s in STRINGS.values()}
        return ("\n###", *sorted(labels))  # "\n###": a base model's next "### Answer:" header
    if style == "reasoning":
        return ("<question>",)
    raise ValueError(f"unknown prompt style {style!r} (expected one of {STYLES})")


def resolve_language(example: Example, prompt_language: str = "en", strict: bool = False) -> str:
    """The language whose strings the prompt uses: `prompt_language`, or the example's for "example".

    A language without strings falls back to English, or raises ValueError when `strict`.
    """
    code = example.language if prompt_language == "example" else prompt_language
    lang = normalise_language(code)
    if lang in STRINGS:
        return lang
    if strict:
        raise ValueError(
            f"example {example.id}: no prompt strings for language {code!r} (known: {sorted(STRINGS)})"
        )
    return FALLBACK_LANGUAGE


def _names(example: Example, key: str) -> list[str]:
    """`metadata[key]` (a non-empty list of strings), else the sub-task name."""
    value = example.metadata.get(key)
    if value is None:
        return [example.subtask]
    if not (isinstance(value, list) and value and all(isinstance(v, str) and v for v in value)):
        raise ValueError(f"example {example.id}: metadata[{key!r}] must be a non-empty list of strings")
    return value


def _join(words: Sequence[str], s: Strings) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {s.and_word} {words[-1]}"


def _quoted(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


def _entities(example: Example, lang: str) -> str:
    s = STRINGS[lang]
    described = []
    for name in dict.fromkeys(_names(example, "labels")):
        text = describe(name, ENTITY_DESCRIPTIONS, ENTITY_ALIASES, lang)
        described.append(text if text is not None else s.unnamed_entities.format(label=name))
    return _join(described, s)


def _relation_names(example: Example) -> list[str]:
    """The sub-task's relation types: the exact strings the answer must use, so they are required."""
    if example.metadata.get("relations") is None:
        raise ValueError(
            f"example {example.id}: re needs metadata['relations'] (the sub-task's relation types)"
        )
    return list(dict.fromkeys(_names(example, "relations")))


def _relations(example: Example, lang: str) -> str:
    parts = []
    for name in _relation_names(example):
        text = describe(name, RELATION_DESCRIPTIONS, RELATION_ALIASES, lang)
        parts.append(_quoted(name) if text is None else f"{_quoted(name)}: {text}")
    return "; ".join(parts)


def _items(example: Example) -> list[str]:
    items = list(example.gold["items"])
    if not items:
        raise ValueError(f"example {example.id}: crf gold has no items")
    return items


def _fields(example: Example, lang: str) -> dict[str, str]:
    """The placeholder values of the example's task."""
    s = STRINGS[lang]
    if example.task == "ner":
        return {"entities": _entities(example, lang)}
    if example.task == "re":
        names = _join([_quoted(n) for n in _relation_names(example)], s)
        return {"relations": _relations(example, lang), "relation_names": names}
    if example.task == "crf":
        return {"items": ", ".join(_quoted(i) for i in _items(example))}
    return {}


def _span(index: int, text: str, label: str) -> dict[str, Any]:
    return {"start": index, "end": index + 1, "label": label, "text": text}


def layout_example(example: Example, lang: str) -> dict[str, Any]:
    """An illustrative answer in the task's layout, built through `gold_answer` so the two agree."""
    s = STRINGS[lang]
    if example.task == "ner":
        labels = _names(example, "labels")
        entities = [_span(i, t, labels[i % len(labels)]) for i, t in enumerate(s.layout_entities)]
        gold: dict[str, Any] = {"entities": entities}
    elif example.task == "re":
        head, tail = _span(0, s.layout_head, "X"), _span(1, s.layout_tail, "Y")
        relation = {"head": head, "relation": _relation_names(example)[0], "tail": tail}
        gold = {"entities": [head, tail], "relations": [relation]}
    elif example.task == "qa":
        return {"answer": LETTER_PLACEHOLDER}  # a real letter would suggest that option
    elif example.task == "crf":
        names = _items(example)[:2]
        gold = {"items": {name: s.layout_value if i == 0 else None for i, name in enumerate(names)}}
    else:
        gold = {"entities": [_span(0, s.layout_claim, "Claim"), _span(1, s.layout_premise, "Premise")]}
    return gold_answer(replace(example, gold=gold))


def _check_qa(example: Example) -> None:
    if example.task != "qa":
        raise ValueError(f"example {example.id}: task {example.task!r} is not qa")
    gold = example.gold
    if not gold["choices"] or not 0 <= gold["answer"] < len(gold["choices"]):
        raise ValueError(
            f"example {example.id}: answer index {gold['answer']} outside the {len(gold['choices'])} choices"
        )


def _options(example: Example) -> str:
    return "\n".join(f"{option_letter(i)}. {clean_text(c)}" for i, c in enumerate(example.gold["choices"]))


def _qa_block(example: Example, s: Strings) -> str:
    """Context (when set), question and lettered options."""
    _check_qa(example)
    lines = []
    if example.gold.get("context"):
        lines.append(f"{s.context_label}: {clean_text(example.gold['context'])}")
    lines += [f"{s.question_label}: {clean_text(example.gold['question'])}", _options(example)]
    return "\n".join(lines)


def json_completion(example: Example) -> str:
    """The IT completion: the gold answer object as JSON."""
    return json.dumps(gold_answer(example), ensure_ascii=False)


def _rules(example: Example, s: Strings) -> tuple[str, ...]:
    """The task's rules; a typed NER sub-task also asks for each entity's type, by its exact label."""
    if not is_typed(example):
        return s.rules[example.task]
    types = _join([_quoted(name) for name in dict.fromkeys(_names(example, "labels"))], s)
    return (*s.rules[example.task], s.typed_rule.format(types=types))


def instruction_prompt(example: Example, prompt_language: str = "en", strict: bool = False) -> str:
    """The IT prompt: description, rules, output format with a layout example, then the input."""
    lang = resolve_language(example, prompt_language, strict)
    s = STRINGS[lang]
    layout = json.dumps(layout_example(example, lang), ensure_ascii=False)
    rules = "\n".join(f"- {rule}" for rule in _rules(example, s))
    source = _qa_block(example, s) if example.task == "qa" else f"{s.text_label}: {clean_text(example.text)}"
    return "\n\n".join(
        [
            s.task_descriptions[example.task].format(**_fields(example, lang)),
            f"{s.rules_header}\n{rules}",
            f"{s.output_format}\n{s.layout_intro} {layout}",
            source,
        ]
    )


def reasoning_prompt(example: Example, prompt_language: str = "en", strict: bool = False) -> str:
    """The RoT prompt: the task as a question, with its possible answers."""
    lang = resolve_language(example, prompt_language, strict)
    s = STRINGS[lang]
    if example.task == "qa":
        _check_qa(example)
        context = example.gold.get("context")
        question = clean_text(example.gold["question"])
        if context:
            question = f"{s.context_label}: {clean_text(context)}\n{question}"
        return f"<question> {question}</question> <possible answers>{_options(example)}</possible answers>"
    fields = _fields(example, lang)
    layout = json.dumps(layout_example(example, lang), ensure_ascii=False)
    question = s.rot_questions[example.task].format(**fields)
    answers = s.rot_answers[example.task].format(layout=layout, **fields)
    text = clean_text(example.text)
    return f"<question> {text} {question}</question> <possible answers>{answers}</possible answers>"


def trace_prompt(question: str) -> str:
    """The RoT prompt of a reasoning trace (its options, if any, are part of the question)."""
    return f"<question> {clean_text(question).strip()}</question>"


def conclusion_completion(reasoning: str, answer: str) -> str:
    """Reasoning, then a final line ``Conclusion: <answer>``."""
    if not reasoning.strip():
        raise ValueError("empty reasoning")
    return f"{reasoning.strip()}\n\n{CONCLUSION_PREFIX} {answer.strip()}"


def reasoning_completion(reasoning: str, example: Example) -> str:
    """The RoT completion: the option letter for qa, the JSON answer object for the other tasks."""
    answer = gold_answer(example)["answer"] if example.task == "qa" else json_completion(example)
    return conclusion_completion(reasoning, answer)


def qa_prompt(
    example: Example,
    shots: Sequence[Example] = (),
    explain: bool = False,
    prompt_language: str = "en",
    strict: bool = False,
) -> str:
    """A 0- or k-shot multiple-choice prompt ending in ``Answer:`` (or ``Explanation:`` when `explain`).

    In the `explain` variant, shots carrying ``metadata["explanation"]`` show it before their answer.
    """
    lang = resolve_language(example, prompt_language, strict)
    s = STRINGS[lang]
    _check_qa(example)
    instruction = (s.qa_explain if explain else s.qa_answer_only).format(answer=ANSWER_PREFIX)
    blocks = [instruction]
    for shot in shots:
        if shot.id == example.id:
            raise ValueError(f"example {example.id} is among its own shots")
        block = _qa_block(shot, s)
        explanation = shot.metadata.get("explanation")
        if explain and explanation:
            block += f"\n{s.explanation_label}: {clean_text(explanation.strip())}"
        blocks.append(f"{block}\n{ANSWER_PREFIX} {gold_answer(shot)['answer']}")
    ending = f"{s.explanation_label}:" if explain else ANSWER_PREFIX
    blocks.append(f"{_qa_block(example, s)}\n{ending}")
    return "\n\n".join(blocks)


def render(
    example: Example,
    style: str,
    *,
    prompt_language: str = "en",
    strict: bool = False,
    shots: Sequence[Example] = (),
) -> str:
    """The prompt of `example` in `style` (one of STYLES); `shots` only for the qa styles."""
    if style == "json":
        prompt = instruction_prompt(example, prompt_language, strict)
    elif style == "reasoning":
        prompt = reasoning_prompt(example, prompt_language, strict)
    elif style in ("qa_answer_only", "qa_explain"):
        return qa_prompt(example, shots, style == "qa_explain", prompt_language, strict)
    else:
        raise ValueError(f"unknown prompt style {style!r} (expected one of {STYLES})")
    if shots:
        raise ValueError(f"style {style!r} takes no shots")
    return prompt
