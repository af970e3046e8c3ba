"""Prompts and completions: every task in every style, languages, shots, dispatch."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.examples import TASKS, Example
from pipeline.tasks.answers import gold_answer
from pipeline.tasks.prompts import (
    ANSWER_PREFIX,
    CONCLUSION_PREFIX,
    STYLES,
    clean_text,
    instruction_prompt,
    json_completion,
    layout_example,
    qa_prompt,
    reasoning_completion,
    reasoning_prompt,
    render,
    resolve_language,
    stop_sequences,
    trace_prompt,
)
from pipeline.tasks.templates import STRINGS

PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
LANGUAGES = ("en", "it", "es", "fr")


def span(text: str, part: str, label: str, nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(part, start + 1)
    return {"start": start, "end": start + len(part), "label": label, "text": part}


def make(task: str, language: str = "en", idx: int = 0, **metadata) -> Example:
    """A small valid example of `task`."""
    common = dict(id=f"{task}-{language}-{idx}", dataset=f"ds-{task}", language=language, split="train")
    if task == "ner":
        text = "Somministrata aspirina; poi ibuprofene e di nuovo aspirina."
        ents = [
            span(text, "aspirina", "FARMACO", 1),
            span(text, "ibuprofene", "FARMACO"),
            span(text, "aspirina", "FARMACO"),
        ]
        return Example(
            **common,
            task=task,
            subtask="drugs",
            text=text,
            gold={"entities": ents},
            metadata={"labels": ["FARMACO"], **metadata},
        )
    if task == "re":
        text = "Emoglobina 12 g/dL, glicemia 90 mg/dL."
        rels = [
            {
                "head": span(text, "90 mg/dL", "RML"),
                "relation": "PERTAINSTO",
                "tail": span(text, "glicemia", "EVENT"),
            },
            {
                "head": span(text, "12 g/dL", "RML"),
                "relation": "PERTAINSTO",
                "tail": span(text, "Emoglobina", "EVENT"),
            },
        ]
        return Example(
            **common,
            task=task,
            subtask="results",
            text=text,
            gold={"entities": [], "relations": rels},
            metadata={"relations": ["PERTAINSTO"], **metadata},
        )
    if task == "qa":
        gold = {
            "question": "Quale farmaco è un FANS?",
            "choices": ["Insulina", "Ibuprofene", "Eparina"],
            "answer": 1,
            "context": "I FANS riducono l'infiammazione.",
        }
        return Example(
            **common, task=task, subtask="mcqa", text=gold["question"], gold=gold, metadata=metadata
        )
    if task == "crf":
        gold = {"items": {"fumo": "sì", "età": "46 anni", "allergie": None}}
        return Example(
            **common,
            task=task,
            subtask="form",
            text="Paziente fumatore di 46 anni.",
            gold=gold,
            metadata=metadata,
        )
    text = "La diagnosi è polmonite. Il paziente ha febbre e tosse."
    ents = [
        span(text, "Il paziente ha febbre e tosse", "Premise"),
        span(text, "La diagnosi è polmonite", "Claim"),
    ]
    return Example(
        **common, task=task, subtask="components", text=text, gold={"entities": ents}, metadata=metadata
    )


def styles_of(task: str) -> tuple[str, ...]:
    return STYLES if task == "qa" else ("json", "reasoning")


@pytest.mark.parametrize("prompt_language", ["en", "example"])
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("task", TASKS)
def test_every_task_renders_in_every_style_without_placeholders(task, language, prompt_language):
    example = make(task, language)
    for style in styles_of(task):
        prompt = render(example, style, prompt_language=prompt_language)
        assert not PLACEHOLDER.search(prompt), (style, prompt)
        assert example.gold["question"] in prompt if task == "qa" else example.text in prompt


@pytest.mark.parametrize("task", TASKS)
def test_instruction_prompt_layout(task):
    example = make(task)
    prompt = instruction_prompt(example)
    assert (
        "Output Format: Provide your answer as a JSON object. ONLY the JSON object, with no other text."
        in prompt
    )
    assert "Rules:\n- " in prompt
    if task == "qa":
        assert prompt.endswith("Question: Quale farmaco è un FANS?\nA. Insulina\nB. Ibuprofene\nC. Eparina")
        assert "Context: I FANS riducono l'infiammazione." in prompt
    else:
        assert prompt.endswith(f"Text: {example.text}")


def test_instruction_prompt_names_the_subtask():
    assert "Extract all the drugs mentioned" in instruction_prompt(make("ner"))
    assert '"PERTAINSTO": a result (head)' in instruction_prompt(make("re"))
    assert '"fumo", "età", "allergie"' in instruction_prompt(make("crf"))
    assert "claims" in instruction_prompt(make("argmining"))
    assert "ogni menzione di farmaci" in instruction_prompt(make("ner", "it"), "example")


def test_qa_without_context_has_no_context_line():
    example = make("qa")
    example.gold["context"] = None
    assert "Context" not in instruction_prompt(example)
    assert "Context" not in reasoning_prompt(example)


@pytest.mark.parametrize("task", TASKS)
def test_json_completion_round_trips(task):
    example = make(task)
    completion = json_completion(example)
    assert json.loads(completion) == gold_answer(example)
    assert "\\u" not in completion


@pytest.mark.parametrize("language", ["en", "it", "es"])
@pytest.mark.parametrize("task", TASKS)
def test_layout_example_has_the_answer_layout(task, language):
    example = make(task)
    prompt = instruction_prompt(example, language)
    line = next(ln for ln in prompt.splitlines() if ln.startswith(STRINGS[language].layout_intro))
    layout = json.loads(line.removeprefix(STRINGS[language].layout_intro))
    assert layout == layout_example(example, language)
    assert layout.keys() == gold_answer(example).keys()
    if task == "re":
        assert layout["relations"][0]["relation"] == "PERTAINSTO"
    if task == "crf":
        assert layout["items"] == {"fumo": STRINGS[language].layout_value, "età": None}


@pytest.mark.parametrize("task", [t for t in TASKS if t != "qa"])
def test_reasoning_prompt_and_completion(task):
    example = make(task)
    prompt = reasoning_prompt(example)
    assert prompt.startswith(f"<question> {example.text} What are the ")
    assert "?</question> <possible answers>A JSON object {" in prompt
    assert prompt.endswith("</possible answers>")
    completion = reasoning_completion("  First I read the text.\nThen I decided.  ", example)
    body, last = completion.rsplit("\n", 1)
    assert body == "First I read the text.\nThen I decided.\n"
    assert last.startswith(f"{CONCLUSION_PREFIX} ")
    assert json.loads(last.removeprefix(CONCLUSION_PREFIX)) == gold_answer(example)


def test_reasoning_prompt_and_completion_for_qa():
    example = make("qa")
    prompt = reasoning_prompt(example)
    assert prompt == (
        "<question> Context: I FANS riducono l'infiammazione.\nQuale farmaco è un FANS?</question> "
        "<possible answers>A. Insulina\nB. Ibuprofene\nC. Eparina</possible answers>"
    )
    assert reasoning_completion("FANS = anti-inflammatory.", example).endswith("\n\nConclusion: B")
    with pytest.raises(ValueError, match="empty reasoning"):
        reasoning_completion("  ", example)


def test_trace_prompt():
    assert trace_prompt(" Which? 1. a 2. b\n") == "<question> Which? 1. a 2. b</question>"


def test_prompt_does_not_depend_on_gold():
    with_entities = make("ner")
    empty = make("ner", idx=1)
    empty.gold["entities"] = []
    for style in ("json", "reasoning"):
        a = render(with_entities, style).replace(with_entities.text, "TEXT")
        b = render(empty, style).replace(empty.text, "TEXT")
        assert a == b


def test_entity_descriptions():
    assert "edades del paciente" in instruction_prompt(make("ner", labels=["EDAD_SUJETO_ASISTENCIA"]), "es")
    assert 'entities of type "FOO_BAR"' in instruction_prompt(make("ner", labels=["FOO_BAR"]))
    assert "drugs and diseases" in instruction_prompt(make("ner", labels=["FARMACO", "Disease"]))
    no_labels = make("ner")
    del no_labels.metadata["labels"]
    assert "Extract all the drugs mentioned" in instruction_prompt(no_labels)  # the sub-task name
    with pytest.raises(ValueError, match=r"ner-en-0: metadata\['labels'\] must be a non-empty list"):
        instruction_prompt(make("ner", labels=[]))


def test_relation_types_come_from_metadata():
    example = make("re", relations=["TREATS"])
    assert 'Relation types: "TREATS".' in instruction_prompt(example)
    assert '"HAS_RESULT": a medical test' in instruction_prompt(make("re", relations=["HAS_RESULT"]))
    del example.metadata["relations"]
    with pytest.raises(ValueError, match=r"re-en-0: re needs metadata\['relations'\]"):
        instruction_prompt(example)


def test_crf_without_items_is_rejected():
    example = make("crf")
    example.gold["items"] = {}
    with pytest.raises(ValueError, match="crf-en-0: crf gold has no items"):
        instruction_prompt(example)


def test_language_resolution_and_fallback():
    assert resolve_language(make("ner", "IT"), "example") == "it"
    assert resolve_language(make("ner", "es-ES"), "example") == "es"
    assert resolve_language(make("ner", "it"), "en") == "en"
    assert resolve_language(make("ner", "en"), "es") == "es"
    french = make("ner", "fr")
    assert "Output Format" in instruction_prompt(french, "example")
    with pytest.raises(
        ValueError, match=r"no prompt strings for language 'fr' \(known: \['en', 'es', 'it'\]\)"
    ):
        instruction_prompt(french, "example", strict=True)


def test_qa_prompt_zero_shot():
    example = make("qa")
    answer_only = qa_prompt(example)
    assert answer_only.endswith("C. Eparina\nAnswer:")
    assert 'of the form "Answer: X"' in answer_only
    explain = qa_prompt(example, explain=True)
    assert explain.endswith("C. Eparina\nExplanation:")
    assert "First explain your reasoning" in explain
    assert qa_prompt(example, prompt_language="it").startswith("Rispondi alla seguente domanda")


def test_qa_prompt_k_shot():
    target = make("qa", idx=0)
    shot1 = make("qa", idx=1, explanation="L'ibuprofene è un FANS.")
    shot2 = make("qa", idx=2)
    shot2.gold.update(question="Quale è un anticoagulante?", answer=2, context=None)
    prompt = qa_prompt(target, [shot1, shot2], explain=False)
    blocks = prompt.split("\n\n")
    assert len(blocks) == 4
    assert blocks[1].endswith(f"{ANSWER_PREFIX} B") and "Explanation" not in blocks[1]
    assert blocks[2].startswith("Question: Quale è un anticoagulante?") and blocks[2].endswith("Answer: C")
    assert blocks[3].endswith("Answer:")
    explained = qa_prompt(target, [shot1, shot2], explain=True).split("\n\n")
    assert explained[1].endswith("Explanation: L'ibuprofene è un FANS.\nAnswer: B")
    assert explained[2].endswith("C. Eparina\nAnswer: C")
    assert explained[3].endswith("Explanation:")


def test_qa_prompt_rejects_bad_input():
    example = make("qa")
    with pytest.raises(ValueError, match="among its own shots"):
        qa_prompt(example, [example])
    with pytest.raises(ValueError, match="is not qa"):
        qa_prompt(make("ner"))
    with pytest.raises(ValueError, match="is not qa"):
        qa_prompt(example, [make("ner")])
    example.gold["answer"] = 3
    with pytest.raises(ValueError, match="answer index 3 outside the 3 choices"):
        render(example, "json")


def test_render_dispatch():
    qa, ner = make("qa"), make("ner")
    assert render(ner, "json", prompt_language="it") == instruction_prompt(ner, "it")
    assert render(ner, "reasoning") == reasoning_prompt(ner)
    assert render(qa, "qa_answer_only", shots=[make("qa", idx=1)]) == qa_prompt(qa, [make("qa", idx=1)])
    assert render(qa, "qa_explain") == qa_prompt(qa, explain=True)
    with pytest.raises(ValueError, match="unknown prompt style 'yaml'"):
        render(ner, "yaml")
    with pytest.raises(ValueError, match="takes no shots"):
        render(qa, "json", shots=[make("qa", idx=1)])
    with pytest.raises(ValueError, match="is not qa"):
        render(ner, "qa_explain")


def test_braces_in_text_are_kept_verbatim():
    example = make("ner")
    example = Example(
        **{**example.to_record(), "text": "Dose {text} {entities} {0} aspirina", "gold": {"entities": []}}
    )
    for style in ("json", "reasoning"):
        assert "Dose {text} {entities} {0} aspirina" in render(example, style)


def test_line_endings_reach_the_prompt_as_newlines():
    example = Example(
        "h", "ds", "ner", "en", "drugs", "train", "a\r\nb\rc", {"entities": []}, {"labels": ["FARMACO"]}
    )
    assert instruction_prompt(example).endswith("Text: a\nb\nc")


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=40), st.data())
def test_any_text_round_trips(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    entity = {"start": start, "end": end, "label": "FARMACO", "text": text[start:end]}
    example = Example(
        "h", "ds", "ner", "en", "drugs", "train", text, {"entities": [entity]}, {"labels": ["FARMACO"]}
    )
    assert json.loads(json_completion(example)) == {"entities": [text[start:end]]}
    assert instruction_prompt(example).endswith(f"Text: {clean_text(text)}")  # line endings as \n
    conclusion = reasoning_completion("why", example).rsplit(CONCLUSION_PREFIX, 1)[1]
    assert json.loads(conclusion) == gold_answer(example)


@pytest.mark.parametrize("task", TASKS)
def test_windows_line_endings_are_cleaned(task):
    example = make(task)
    crlf = replace(example, text=example.text.replace(" ", "\r\n", 1))
    if task == "qa":
        gold = {
            **example.gold,
            "question": "Quale\r\nfarmaco?",
            "context": "Caso\r\nclinico.",
            "choices": ["a\r\nb", "c"],
        }
        crlf = replace(example, gold=gold)
    for style in styles_of(task):
        prompt = render(crlf, style)
        assert "\r" not in prompt, style


def test_qa_layout_example_suggests_no_option():
    prompt = instruction_prompt(make("qa"))
    assert '{"answer": "X"}' in prompt
    assert not re.search(r'\{"answer": "[A-W]"\}', prompt)


def typed_ner(language: str = "en") -> Example:
    text = "Paziente con polmonite, trattata con amoxicillina."
    ents = [span(text, "amoxicillina", "treatment"), span(text, "polmonite", "problem")]
    return Example(
        "t-1",
        "n2c2",
        "ner",
        language,
        "problem_treatment",
        "train",
        text,
        {"entities": ents},
        {"labels": ["problem", "treatment"]},
    )


def test_multi_label_ner_is_answered_with_types():
    example = typed_ner()
    assert gold_answer(example) == {
        "entities": [{"text": "polmonite", "type": "problem"}, {"text": "amoxicillina", "type": "treatment"}]
    }
    prompt = instruction_prompt(example)
    assert 'its type, one of "problem" and "treatment".' in prompt
    assert (
        json.dumps(layout_example(example, "en"))
        == '{"entities": [{"text": "first entity", "type": "problem"}, '
        '{"text": "second entity", "type": "treatment"}]}'
    )
    assert json.dumps(layout_example(example, "en")) in prompt
    assert '"type": "problem"' in reasoning_prompt(example)
    # single-label sub-tasks keep the thesis's plain list of surface forms
    assert gold_answer(make("ner")) == {"entities": ["aspirina", "ibuprofene", "aspirina"]}
    assert "its type" not in instruction_prompt(make("ner"))


def test_stop_sequences_per_style():
    assert "\nQuestion:" in stop_sequences("qa_explain") and "\nDomanda:" in stop_sequences("qa_answer_only")
    assert stop_sequences("reasoning") == ("<question>",)
    assert "\nText:" in stop_sequences("json")
    with pytest.raises(ValueError, match="unknown prompt style"):
        stop_sequences("other")
    # a stop sequence never occurs inside an answer the model is taught
    for task in TASKS:
        assert not any(stop in json_completion(make(task)) for stop in stop_sequences("json"))
