"""Parsing model completions back into the task answer layouts."""

from __future__ import annotations

import json_repair
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.evaluate import parse
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
        forms = [e["text"] if isinstance(e, dict) else e for values in parsed.answer.values() for e in values]
        assert all(isinstance(e, str) for e in forms)


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


# --- forms real models write (issue 16 §1) ------------------------------------------------------

NERVES = ["Radial nerve", "Ulnar nerve", "Median nerve", "Axillary nerve"]


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("**C**", "C"),
        ("Answer: **C**", "C"),
        ("**Answer:** C", "C"),
        ("Conclusion: **C**", "C"),
        ("the answer is C, the median nerve", "C"),
        ("C\nExplanation: the median nerve supplies the thenar muscles.", "C"),
        ("Option C", "C"),
        ("the correct option is C.", "C"),
        ("Median nerve", "C"),
        ('{"answer": "C"', "C"),
        ('```json\n{"answer": "C', "C"),
        ("A. Radial is wrong; it is C", "C"),
        ('Example: {"answer": "A"}\n{"answer": "C"}', "C"),
        ("Option A is wrong and option B is wrong. Answer: C", "C"),
        ("C. Median nerve", "C"),
        ("A. poema\nB. romanzo\nAnswer: C", "C"),
        # the first answer wins over a later one in the same item
        ("Answer: B\nOn reflection. Answer: A", "B"),
    ],
)
def test_forms_real_models_write(text, letter):
    assert parse_choice(text, NERVES) == letter


@pytest.mark.parametrize(
    "text",
    [
        "A. poema\nB. romanzo epistolare\nC. novella\nD. saggio",  # the option list echoed back
        "A. Radial nerve\nB. Ulnar nerve\nC. Median nerve\nD. Axillary nerve",
        'Example: {"answer": "A"}',  # only the layout example, echoed
        "A. Radial is wrong",  # names option A's letter without its text nor an answer
    ],
)
def test_echoes_are_not_answers(text):
    assert parse_choice(text, NERVES) is None


@pytest.mark.parametrize("style", ["qa_answer_only", "qa_explain", "json"])
def test_run_on_question_is_cut(style):
    text = " B\n\nQuestion: Which nerve?\nA. Radial nerve\nB. Ulnar nerve\nAnswer: A"
    assert parse_completion("qa", text, style, NERVES).answer == {"answer": "B"}
    italian = " B\n\nDomanda: Quale nervo?\nA. Radiale\nRisposta: A"
    assert parse_completion("qa", italian, "qa_answer_only", NERVES).answer == {"answer": "B"}


LETTERS = st.sampled_from("ABCD")
ANSWER_FORMS = st.sampled_from(
    [" {}", " {}.", " **{}**", " ({})", "{}\nExplanation: see above.", " {} ", " Option {}", "\n{}"]
)
NOISE = st.text(alphabet=st.characters(blacklist_characters="\r"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(LETTERS, LETTERS, ANSWER_FORMS, NOISE, st.sampled_from(["qa_answer_only", "qa_explain"]))
def test_fuzz_run_on_completions_read_the_first_answer(first, later, form, noise, style):
    """A base model answers, then invents the next question and answers that too."""
    completion = (
        form.format(first)
        + f"\n\nQuestion: {noise}\nA. Radial nerve\nB. Ulnar nerve\nC. Median nerve\nAnswer: {later}"
    )
    assert parse_completion("qa", completion, style, NERVES).answer == {"answer": first}


def test_explanations_that_name_other_options_first():
    text = "Explanation: Option A is wrong; the radial nerve is sensory here. It is C.\nAnswer: C"
    assert parse_completion("qa", text, "qa_explain", NERVES).answer == {"answer": "C"}


# --- strict and lenient readings (issue 15 item 6) ----------------------------------------------

NEAR_MISSES = [
    (
        '{"entities": [{"name": "Myotonic dystrophy (DM)", "description": "a disease"}]}',
        ["Myotonic dystrophy (DM)"],
    ),
    ('{"type": "json", "data": {"entities": ["fever", "cough"]}}', ["fever", "cough"]),
    ('{"type": "json", "data": [{"entity": "fever"}, {"mention": "cough"}]}', ["fever", "cough"]),
]


@pytest.mark.parametrize(("text", "entities"), NEAR_MISSES)
def test_lenient_reading_accepts_near_miss_layouts_that_strict_refuses(text, entities):
    assert not parse_completion("ner", text).ok
    lenient = parse_completion("ner", text, mode="lenient")
    assert lenient.ok and lenient.answer == {"entities": entities}


def test_lenient_reading_agrees_with_strict_on_the_taught_layout():
    for text in ('{"entities": ["fever"]}', 'ok {"entities": []}', "{'entities': ['a',],}"):
        assert parse_completion("ner", text, mode="lenient") == parse_completion("ner", text)
    wrapped = '{"result": {"relations": [{"head": "Hb", "relation": "has_result", "tail": "12"}]}}'
    assert not parse_completion("re", wrapped).ok and parse_completion("re", wrapped, mode="lenient").ok


def test_typed_entities_keep_their_type():
    text = '{"entities": [{"text": "aspirin", "type": "DRUG"}, "fever"]}'
    assert parse_completion("ner", text).answer == {
        "entities": [{"text": "aspirin", "type": "DRUG"}, "fever"]
    }


def test_unknown_parse_mode_fails_cleanly():
    assert not parse_completion("ner", '{"entities": []}', mode="loose").ok


# --- bounded cost (issue 20 §4) ------------------------------------------------------------------


class CountingRepair:
    def __init__(self):
        self.calls, self.chars = 0, 0

    def loads(self, text):
        self.calls += 1
        self.chars += len(text)
        return json_repair.loads(text)


ADVERSARIAL_NESTED = [
    '{"a": ' * 20 + "x " * 2000 + "}" * 20,
    ('{"entities": [{"x": ' * 3 + "'a, " * 300 + "}]" * 3 + "} ") * 12,
    "{" + '{"entities": ["a",' * 400 + "]} " * 400,
    ('{"entities": [fever, ' + "{" * 5 + "a" * 100 + "}" * 5 + "]} ") * 40,
]


@pytest.mark.parametrize("text", ADVERSARIAL_NESTED, ids=range(len(ADVERSARIAL_NESTED)))
def test_repair_work_is_bounded(monkeypatch, text):
    assert 2_000 < len(text) < 20_000
    counter = CountingRepair()
    monkeypatch.setattr(parse, "json_repair", counter)
    for task in ("ner", "re", "crf", "argmining"):
        parse_completion(task, text)
        parse_completion(task, text, mode="lenient")
    assert counter.calls <= 8 * parse.MAX_REPAIRS
    assert counter.chars <= 8 * parse.MAX_REPAIRS * parse.MAX_REPAIR_CHARS


def test_strict_json_work_is_linear(monkeypatch):
    seen = []
    real = parse.json.loads

    def loads(text, *args, **kwargs):
        seen.append(len(text))
        return real(text, *args, **kwargs)

    for size in (4_000, 16_000):
        seen.clear()
        text = ('{"a": ' * 10 + '"b"' + "}" * 10 + " ") * (size // 80)
        monkeypatch.setattr(parse.json, "loads", loads)
        parse_completion("ner", text)
        monkeypatch.undo()
        assert sum(seen) <= 2 * len(text)  # each valid top-level block parsed once, not its 10 inner ones


def test_balanced_blocks_skip_too_deep_and_unbalanced():
    assert parse.balanced_blocks('{"a": {"b": 1}} {x') == [(0, 15), (6, 14)]
    deep = "{" * (parse.MAX_DEPTH + 2) + "}" * (parse.MAX_DEPTH + 2)
    assert all(end - start < len(deep) for start, end in parse.balanced_blocks(deep))
    assert parse.balanced_blocks('it\'s {"a": "x}"} ok') == [(5, 16)]
