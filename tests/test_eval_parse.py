"""Parsing model completions back into the task answer layouts."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.evaluate.parse import coerce_answer, empty_answer, parse_choice, parse_completion, parse_record
from pipeline.examples import TASKS

CHOICES = ["aspirin", "ibuprofen", "paracetamol", "none of these"]


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ('{"entities": ["fever", "chest pain"]}', ["fever", "chest pain"]),
        ('```json\n{"entities": ["fever"]}\n```', ["fever"]),
        ('Sure! Here they are: {"entities": ["fever"]} Hope this helps.', ["fever"]),
        ("{'entities': ['fever', 'chest pain'],}", ["fever", "chest pain"]),
        ('{"entities": null}', []),
        ('{"entities": "fever"}', ["fever"]),
        ('{"Entities": [12, {"text": "Hb", "start": 0}]}', ["12", "Hb"]),
        ('prose {not json} then {"entities": ["a"]}', ["a"]),
        ('{"entities": ["Crohn\'s disease"]}', ["Crohn's disease"]),
    ],
)
def test_ner_json_answers(text, entities):
    parsed = parse_completion("ner", text)
    assert parsed.ok
    assert parsed.answer == {"entities": entities}


@pytest.mark.parametrize(
    "text",
    [
        "fever, chest pain",  # no JSON object at all
        "",
        "{garbage",
        '{"entities": ["fever", "chest pa',  # truncated: not repaired
        '{"entities": [["nested"]]}',
        '{"entities": [true]}',
        '{"labels": ["fever"]}',
        "{}",
    ],
)
def test_ner_failures_give_the_empty_answer(text):
    parsed = parse_completion("ner", text)
    assert not parsed.ok
    assert parsed.answer == {"entities": []}
    assert parsed.error


def test_re_crf_argmining_layouts():
    re_text = '{"relations": [{"head": "Hb", "relation": "has_result", "tail": 12}]}'
    assert parse_completion("re", re_text).answer == {
        "relations": [{"head": "Hb", "relation": "has_result", "tail": "12"}]
    }
    assert not parse_completion("re", '{"relations": [{"head": "Hb", "tail": "12"}]}').ok
    assert parse_completion("crf", '{"items": {"age": 46, "sex": null}}').answer == {
        "items": {"age": "46", "sex": None}
    }
    assert not parse_completion("crf", '{"items": {"age": [46]}}').ok
    assert parse_completion("argmining", '{"claims": ["c"]}').answer == {"claims": ["c"], "premises": []}
    assert not parse_completion("argmining", '{"other": ["c"]}').ok


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Answer: B", "B"),
        ("B", "B"),
        ("b", "B"),
        ("(C)", "C"),
        ("C.", "C"),
        ("B. ibuprofen", "B"),
        ("The answer is C.", "C"),
        ("I think the answer is D", "D"),
        ('{"answer": "D"}', "D"),
        ("{'answer': 'b'}", "B"),
        ('{"answer": 2}', "B"),
        ("Answer: 3", "C"),
        ("ibuprofen", "B"),
        ("Paracetamol.", "C"),
        ("Answer: paracetamol", "C"),
        ("Let me think. A is wrong, B is wrong.\nAnswer: C", "C"),
    ],
)
def test_multiple_choice(text, letter):
    assert parse_choice(text, CHOICES) == letter
    assert parse_completion("qa", text, choices=CHOICES).answer == {"answer": letter}


@pytest.mark.parametrize(
    "text", ["Answer: a fracture", "A patient presents with fever", "Answer: E", "", "no idea", "Answer: 7"]
)
def test_multiple_choice_failures(text):
    parsed = parse_completion("qa", text, choices=CHOICES)
    assert not parsed.ok
    assert parsed.answer == {"answer": None}


def test_reasoning_style_reads_the_last_conclusion():
    text = "Conclusion: maybe A at first.\nOn reflection B fits better.\nConclusion: B"
    assert parse_completion("qa", text, "reasoning", CHOICES).answer == {"answer": "B"}
    ner = "The text names two findings.\nConclusion: fever; chest pain, dyspnoea"
    assert parse_completion("ner", ner, "reasoning").answer == {
        "entities": ["fever", "chest pain", "dyspnoea"]
    }
    assert parse_completion("ner", "Conclusion: None.", "reasoning").answer == {"entities": []}
    json_conclusion = 'Reasoning.\nConclusion: {"relations": [{"head": "a", "relation": "r", "tail": "b"}]}'
    assert parse_completion("re", json_conclusion, "reasoning").ok
    assert not parse_completion("ner", "Conclusion:", "reasoning").ok
    # without the marker the whole completion is read as in the json style
    assert parse_completion("ner", '{"entities": ["x"]}', "reasoning").answer == {"entities": ["x"]}


def test_parse_record_takes_choices_from_example_gold():
    record = {
        "task": "qa",
        "style": "json",
        "completion": "ibuprofen",
        "example_gold": {"question": "q", "choices": CHOICES, "answer": 1, "context": None},
    }
    assert parse_record(record).answer == {"answer": "B"}


def test_coerce_rejects_non_objects():
    assert coerce_answer("ner", ["fever"]) is None
    assert coerce_answer("qa", {"answer": "B"}) is None  # qa answers go through parse_choice


ADVERSARIAL = [
    "",
    "\x00",
    "{\x00}",
    '{"entities": ["a\x00b"]}',
    "{" * 100_000,
    "}" * 1000 + "{" * 1000,
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 5000 + "1" + "}" * 5000,
    "{" * 5000 + "}" * 5000,
    '{"entities": null}',
    '{"entities": {"a": 1}}',
    '{"relations": null}',
    '{"relations": [null]}',
    '{"items": ["a"]}',
    '{"claims": null, "premises": null}',
    '{"answer": null}',
    '{"answer": true}',
    '{"answer": ["A"]}',
    '{"answer": 1e309}',
    "{'answer': '\U0001f600'}",
    '{"entities": ["' + "x" * 1_000_000 + '"]}',
    "x" * 1_000_000,
    "{" + "a" * 1_000_000,
    '{"' * 10_000,
    "Answer: " * 10_000,
    "Conclusion: " * 10_000,
    "```json\n{\n```",
    "{{{{}}}}",
    '{"entities": ["a", "b",]]}',
    "\ud800",
    "ＡＮＳＷＥＲ：Ｂ",
    "Answer: \u0000B",
    "{'entities': ['Crohn's disease']}",
    "NaN",
    '{"entities": [NaN, Infinity]}',
]


def _check_layout(task: str, style: str, text: str) -> None:
    parsed = parse_completion(task, text, style, CHOICES)
    expected_keys = set(empty_answer(task))
    assert set(parsed.answer) == expected_keys
    if not parsed.ok:
        assert parsed.answer == empty_answer(task)
    if task == "qa":
        assert parsed.answer["answer"] in (None, "A", "B", "C", "D")
    elif task == "crf":
        assert all(isinstance(v, (str, type(None))) for v in parsed.answer["items"].values())
    elif task == "re":
        assert all(
            isinstance(r[k], str) for r in parsed.answer["relations"] for k in ("head", "relation", "tail")
        )
    else:
        assert all(isinstance(e, str) for values in parsed.answer.values() for e in values)


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_strings_never_raise(text):
    for task in TASKS:
        for style in ("json", "reasoning"):
            _check_layout(task, style, text)
            _check_layout(task, style, "Conclusion: " + text)


FRAGMENTS = st.sampled_from(
    [
        '{"entities": [',
        '"fever"',
        ",",
        "]",
        "}",
        "{",
        "'",
        '"',
        "Answer:",
        "Conclusion:",
        " B",
        "null",
        ":",
        "\n",
    ]
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=200), st.lists(FRAGMENTS, max_size=40).map("".join)))
def test_fuzz_never_raises_and_keeps_the_layout(text):
    for task in TASKS:
        _check_layout(task, "json", text)
        _check_layout(task, "reasoning", text)


def test_unknown_style_and_non_string_completion_fail_cleanly():
    assert not parse_completion("ner", '{"entities": []}', "other").ok
    assert not parse_completion("ner", None).ok
