"""Training mixes: train split only, filters, caps, determinism, RoT traces, CLI, statistics."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest

from pipeline.examples import Example, read_examples
from pipeline.io import read_jsonl
from pipeline.tasks.answers import gold_answer
from pipeline.tasks.mix import (
    ITSettings,
    RoTSettings,
    build_mix,
    check_gold,
    it_mix,
    load_traces,
    main,
    mix_stats,
    parse_settings,
    rot_mix,
    words,
)
from pipeline.tasks.prompts import instruction_prompt

RECORD_KEYS = {"id", "prompt", "completion", "dataset", "task", "language", "subtask", "kind"}


def example(
    i: int, task: str, language: str = "en", split: str = "train", subtask: str = "a", **metadata
) -> Example:
    text = f"Case {i}: aspirin given, fever noted."
    a, f = text.index("aspirin"), text.index("fever")
    drug = {"start": a, "end": a + 7, "label": "Claim", "text": "aspirin"}
    sign = {"start": f, "end": f + 5, "label": "Premise", "text": "fever"}
    gold = {
        "ner": {"entities": [sign, drug]},
        "re": {"entities": [drug, sign], "relations": [{"head": drug, "relation": "CAUSES", "tail": sign}]},
        "qa": {"question": f"Question {i}?", "choices": ["yes", "no"], "answer": i % 2, "context": None},
        "crf": {"items": {"drug": "aspirin", "allergy": None}},
        "argmining": {"entities": [drug, sign]},
    }[task]
    return Example(
        f"{task}-{language}-{subtask}-{split}-{i}",
        f"ds-{task}",
        task,
        language,
        subtask,
        split,
        text,
        gold,
        {"relations": ["CAUSES"], **metadata} if task == "re" else dict(metadata),
    )


def corpus() -> list[Example]:
    """Five tasks × two languages × two sub-tasks, train and test."""
    return [
        example(i, task, lang, split, sub)
        for task in ("ner", "re", "qa", "crf", "argmining")
        for lang in ("en", "it")
        for sub in ("a", "b")
        for split, n in (("train", 5), ("test", 2))
        for i in range(n)
    ]


def write_tasks(tmp_path: Path, examples: list[Example]) -> list[Path]:
    """One task file per dataset."""
    paths = {}
    for e in examples:
        path = tmp_path / f"{e.dataset}.jsonl"
        paths.setdefault(path, []).append(e.to_record())
    for path, records in paths.items():
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return sorted(paths)


def test_it_mix_has_one_record_per_train_example():
    examples = corpus()
    records = it_mix(examples, ITSettings())
    train = {e.id: e for e in examples if e.split == "train"}
    assert sorted(r["id"] for r in records) == sorted(train)
    for r in records:
        e = train[r["id"]]
        assert set(r) == RECORD_KEYS and r["kind"] == "it"
        assert (r["dataset"], r["task"], r["language"], r["subtask"]) == (
            e.dataset,
            e.task,
            e.language,
            e.subtask,
        )
        assert r["prompt"] == instruction_prompt(e) and json.loads(r["completion"]) == gold_answer(e)


def test_it_mix_is_deterministic_for_a_seed_and_independent_of_input_order():
    examples = corpus()
    first = it_mix(examples, ITSettings(seed=3, max_examples_per_cell=3))
    shuffled = examples[:]
    random.Random(0).shuffle(shuffled)
    assert it_mix(shuffled, ITSettings(seed=3, max_examples_per_cell=3)) == first
    other = it_mix(examples, ITSettings(seed=4, max_examples_per_cell=3))
    assert [r["id"] for r in other] != [r["id"] for r in first]


def test_it_mix_filters():
    examples = corpus()
    records = it_mix(examples, ITSettings(languages=("IT",), tasks=("ner", "qa")))
    assert {(r["language"], r["task"]) for r in records} == {("it", "ner"), ("it", "qa")}
    assert len(records) == 2 * 2 * 5
    assert all(
        r["language"] == "it" for r in it_mix(examples, ITSettings(prompt_language="it", languages=("it",)))
    )


def test_it_mix_caps_nest():
    examples = corpus()
    per_cell = it_mix(examples, ITSettings(max_examples_per_cell=2))
    assert set(Counter((r["dataset"], r["language"], r["subtask"]) for r in per_cell).values()) == {2}
    per_task = it_mix(examples, ITSettings(max_examples_per_task=3))
    assert Counter(r["task"] for r in per_task) == {t: 3 for t in ("ner", "re", "qa", "crf", "argmining")}
    small, large = (
        {r["id"] for r in it_mix(examples, ITSettings(max_examples_per_task=n, seed=7))} for n in (3, 8)
    )
    assert small < large
    both = it_mix(examples, ITSettings(max_examples_per_cell=1, max_examples_per_task=3))
    assert Counter(r["task"] for r in both) == {t: 3 for t in ("ner", "re", "qa", "crf", "argmining")}


def test_it_mix_strict_language():
    french = [example(0, "ner", "fr")]
    assert it_mix(french, ITSettings(prompt_language="example"))[0]["prompt"].startswith("Extract")
    with pytest.raises(ValueError, match="no prompt strings for language 'fr'"):
        it_mix(french, ITSettings(prompt_language="example", strict_language=True))


def test_bad_records_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = example(0, "ner").to_record()
    missing = {k: v for k, v in example(1, "ner").to_record().items() if k != "gold"}
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(missing) + "\n")
    with pytest.raises(ValueError, match=rf"{path}:3: example lacks key\(s\) \['gold'\]"):
        list(read_examples([path], check_gold))
    cases = {
        "{not json": r":1: invalid JSON",
        json.dumps({**good, "extra": 1}): r":1: .*unknown key\(s\) \['extra'\]",
        json.dumps({**good, "task": "pos"}): r":1: bad example .*unknown task 'pos'",
        json.dumps({**good, "gold": {"spans": []}}): r":1: bad example \(KeyError",
        json.dumps({**good, "text": 3}): r":1: ill-typed example fields",
        json.dumps(
            {**example(0, "qa").to_record(), "gold": {**example(0, "qa").gold, "answer": 2}}
        ): r":1: qa answer",
    }
    for line, pattern in cases.items():
        path.write_text(line + "\n")
        with pytest.raises(ValueError, match=pattern):
            list(read_examples([path], check_gold))
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: duplicate example .* \(first at .*bad.jsonl:1\)"):
        list(read_examples([path], check_gold))


def test_settings_are_checked():
    assert parse_settings("it", {"languages": ["en"], "seed": 2}) == ITSettings(languages=("en",), seed=2)
    assert parse_settings("rot", {"token_budget_words": 10}) == RoTSettings(token_budget_words=10)
    with pytest.raises(ValueError, match=r"it mix settings: unknown key\(s\) \['max_examples'\]"):
        parse_settings("it", {"max_examples": 3})
    with pytest.raises(ValueError, match=r"tasks\[0\]: must be one of .*got 'pos'"):
        parse_settings("it", {"tasks": ["pos"]})
    for bad in (
        {"max_examples_per_task": 0},
        {"max_examples_per_cell": True},
        {"languages": "en"},
        {"seed": "1"},
    ):
        with pytest.raises(ValueError, match="settings"):
            parse_settings("it", bad)
    with pytest.raises(ValueError, match="unknown mix kind"):
        parse_settings("dpo", {})


def traces_file(tmp_path: Path, n: int = 6) -> Path:
    path = tmp_path / "huatuo.jsonl"
    records = [
        {
            "id": f"t{i}",
            "question": f"Q{i}? A. x B. y",
            "reasoning": "word " * (i + 1),
            "answer": "B",
            "language": "en" if i % 2 else "th",
            "source": "ignored",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_rot_mix_traces_and_explained_qa(tmp_path):
    traces = load_traces([traces_file(tmp_path)])
    explained = [
        example(i, "qa", split=split, explanation=f"Because {i}.")
        for i in range(3)
        for split in ("train", "test")
    ]
    examples = [*explained, example(9, "qa"), example(0, "ner", explanation="ignored")]
    records = rot_mix(traces, examples, RoTSettings())
    assert Counter(r["task"] for r in records) == {"reasoning": 6, "qa": 3}
    assert all(set(r) == RECORD_KEYS and r["kind"] == "rot" for r in records)
    trace = next(r for r in records if r["id"] == "t0")
    assert trace == {
        "id": "t0",
        "prompt": "<question> Q0? A. x B. y</question>",
        "completion": "word\n\nConclusion: B",
        "dataset": "huatuo",
        "task": "reasoning",
        "language": "th",
        "subtask": "trace",
        "kind": "rot",
    }
    qa = next(r for r in records if r["task"] == "qa" and r["id"].endswith("-1"))
    assert qa["prompt"].startswith("<question> Question 1?</question> <possible answers>A. yes\nB. no")
    assert qa["completion"] == "Because 1.\n\nConclusion: B"
    assert rot_mix(traces, examples, RoTSettings(seed=1)) != records
    assert rot_mix(traces, examples, RoTSettings()) == records
    assert {r["task"] for r in rot_mix(traces, examples, RoTSettings(qa_explanations=False))} == {"reasoning"}
    assert {r["language"] for r in rot_mix(traces, examples, RoTSettings(languages=("th",)))} == {"th"}


def test_rot_mix_caps_are_prefixes(tmp_path):
    traces = load_traces([traces_file(tmp_path, 10)])
    full = rot_mix(traces, [], RoTSettings(seed=5))
    assert rot_mix(traces, [], RoTSettings(seed=5, max_examples=4)) == full[:4]
    budget = rot_mix(traces, [], RoTSettings(seed=5, token_budget_words=30))
    assert budget == full[: len(budget)] and 0 < len(budget) < len(full)
    sizes = [len(words(r["prompt"])) + len(words(r["completion"])) for r in full]
    assert sum(sizes[: len(budget)]) <= 30 < sum(sizes[: len(budget) + 1])


def test_bad_trace_names_the_file_and_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"id": "1", "question": "q", "answer": "A", "language": "en"}) + "\n")
    with pytest.raises(ValueError, match=rf"{path}:1: trace lacks key\(s\) \['reasoning'\]"):
        load_traces([path])
    path.write_text(
        "\n" + json.dumps({"id": "1", "question": "q", "reasoning": " ", "answer": "A", "language": "en"})
    )
    with pytest.raises(
        ValueError, match=rf"{path}:2: trace key\(s\) \['reasoning'\] must be non-empty strings"
    ):
        load_traces([path])


def test_mix_stats_values():
    records = [
        {"prompt": "a b c", "completion": "x", "task": "ner", "language": "en", "dataset": "d"},
        {"prompt": "A b", "completion": "y z w", "task": "qa", "language": "it", "dataset": "d"},
    ]
    stats = mix_stats(records, "it")
    assert stats["examples"] == 2
    assert stats["by_task_language"] == {"ner/en": 1, "qa/it": 1}
    assert stats["prompt_words"] == {"mean": 2.5, "median": 2.5, "p95": 2.95}
    assert stats["completion_chars"] == {"mean": 3.0, "median": 3.0, "p95": 4.8}
    assert stats["completion_word_share"] == 0.4444
    assert stats["vocabulary_size"] == 7
    with pytest.raises(ValueError, match="empty mix"):
        mix_stats([], "it")


def test_cli_writes_mix_stats_and_vocabulary(tmp_path):
    tasks = write_tasks(tmp_path, corpus())
    out, stats, vocab = (
        tmp_path / "mix" / "it.jsonl",
        tmp_path / "mix" / "it.stats.json",
        tmp_path / "mix" / "v.txt",
    )
    settings = json.dumps({"seed": 13, "max_examples_per_cell": None, "tasks": ["ner", "crf"]})
    main(
        [
            "--kind",
            "it",
            "--tasks",
            *map(str, tasks),
            "--settings",
            settings,
            "--output",
            str(out),
            "--stats",
            str(stats),
            "--vocab",
            str(vocab),
        ]
    )
    records = read_jsonl(out)
    assert records == build_mix("it", tasks, [], json.loads(settings))[0]
    summary = json.loads(stats.read_text())
    assert summary["examples"] == len(records) == 2 * 2 * 2 * 5
    assert summary["by_task"] == {"crf": 20, "ner": 20}
    words = vocab.read_text().splitlines()
    assert words == sorted(words) and "aspirin" in words and len(words) == summary["vocabulary_size"]


def test_cli_rot_and_errors(tmp_path):
    tasks = write_tasks(tmp_path, [example(0, "qa", explanation="Since.")])
    out, stats = tmp_path / "rot.jsonl", tmp_path / "rot.json"
    main(
        [
            "--kind",
            "rot",
            "--tasks",
            *map(str, tasks),
            "--traces",
            str(traces_file(tmp_path, 2)),
            "--output",
            str(out),
            "--stats",
            str(stats),
        ]
    )
    assert json.loads(stats.read_text())["by_task"] == {"qa": 1, "reasoning": 2}
    with pytest.raises(ValueError, match="an it mix takes no --traces"):
        build_mix("it", tasks, [traces_file(tmp_path)], {})
    with pytest.raises(ValueError, match="the it mix is empty"):
        build_mix("it", tasks, [], {"languages": ["es"]})
    with pytest.raises(ValueError, match="--settings is not valid JSON"):
        main(["--kind", "it", "--settings", "{", "--output", str(out), "--stats", str(stats)])


def ner_doc(dataset: str, split: str, i: int, text: str) -> Example:
    return Example(f"{dataset}-{split}-{i}", dataset, "ner", "es", "a", split, text, {"entities": []})


CASE = (
    "Paciente de 45 años que acude a urgencias por dolor abdominal intenso de tres días "
    "de evolución acompañado de fiebre y vómitos"
)


def test_training_records_overlapping_another_datasets_test_set_are_removed_and_counted(tmp_path):
    """E3C-ES shares clinical cases with PharmaCoNER's test set: dropped by default, counted by pair."""
    examples = [
        ner_doc("e3c", "train", 0, CASE + "."),
        ner_doc("e3c", "train", 1, "Un texto de entrenamiento corto y distinto."),
        ner_doc("pharmaconer", "test", 0, "Caso clínico. " + CASE.upper() + ", sin antecedentes."),
        ner_doc("pharmaconer", "train", 2, "Otro caso de entrenamiento sin relación alguna con la prueba."),
    ]
    tasks = write_tasks(tmp_path, examples)
    records, report = build_mix("it", tasks, [], {})
    assert sorted(r["id"] for r in records) == ["e3c-train-1", "pharmaconer-train-2"]
    assert report["removed"] == report["contaminated"] == 1 and report["records"] == 3
    assert report["by_pair"] == {"e3c -> pharmaconer": 1}
    assert report["items"] == [{"dataset": "e3c", "id": "e3c-train-0", "test_datasets": ["pharmaconer"]}]
    flagged, report = build_mix("it", tasks, [], {"decontamination_action": "flag"})
    assert len(flagged) == 3 and report["kept_contaminated"] == 1 and report["removed"] == 0
    long_ngram, _ = build_mix("it", tasks, [], {"decontamination_ngram": 30})
    assert len(long_ngram) == 3  # the shared passage is 23 words
    e3c_only = [p for p in tasks if "e3c" in p.name]
    assert len(build_mix("it", e3c_only, [], {})[0]) == 2  # its own files hold no test example
    assert len(build_mix("it", e3c_only, [], {}, test_paths=tasks)[0]) == 1
    (tmp_path / "own").mkdir()
    own = write_tasks(tmp_path / "own", [ner_doc("e3c", "train", 0, CASE), ner_doc("e3c", "test", 1, CASE)])
    assert len(build_mix("it", own, [], {})[0]) == 1  # a dataset's own split is left as published
    assert build_mix("it", own, [], {"decontamination_scope": "all", "decontamination_action": "flag"})[1][
        "by_pair"
    ] == {"e3c -> e3c": 1}


def test_cli_writes_the_contamination_report(tmp_path):
    tasks = write_tasks(
        tmp_path,
        [
            ner_doc("e3c", "train", 0, CASE),
            ner_doc("e3c", "train", 1, "corto"),
            ner_doc("meddocan", "test", 0, CASE),
        ],
    )
    out, stats, report = tmp_path / "m.jsonl", tmp_path / "m.stats.json", tmp_path / "m.contamination.json"
    e3c = [str(p) for p in tasks if "e3c" in p.name]
    main(
        [
            *("--kind", "it", "--tasks", *e3c, "--test-tasks", *map(str, tasks), "--output", str(out)),
            *("--stats", str(stats), "--contamination", str(report)),
        ]
    )
    written = json.loads(report.read_text())
    assert written["removed"] == 1 and written["by_test_dataset"] == {"meddocan": 1}
    assert written["test_tasks"] == list(map(str, tasks)) and len(read_jsonl(out)) == 1
    with pytest.raises(ValueError, match="decontamination_action"):
        parse_settings("it", {"decontamination_action": "keep"})


@pytest.mark.e2e
def test_real_e3c_spanish_training_cases_that_are_pharmaconer_or_meddocan_tests_are_removed(
    shared_data, tmp_path
):
    """The shared samples: E3C-ES (SPACCC) training sentences are PharmaCoNER/MEDDOCAN test texts."""
    import dataclasses

    from conftest import REPO
    from pipeline.tasks.registry import data_path, load_examples, load_registry

    if shared_data.resolve() != (REPO.parent / "shared" / "data").resolve():
        pytest.skip("the development registry's paths point at ../shared/data beside the repository")
    registry = load_registry(REPO / "config" / "datasets" / "shared.yaml")
    files = {}
    for name in ("e3c-ner", "pharmaconer", "meddocan"):
        spec = registry[name]
        languages = tuple(lang for lang in spec.languages if data_path(name, spec, lang, REPO).exists())
        examples = load_examples(name, dataclasses.replace(spec, languages=languages), REPO)
        (tmp_path / name).mkdir()
        files[name] = write_tasks(tmp_path / name, examples)[0]
    records, report = build_mix("it", [files["e3c-ner"]], [], {}, test_paths=list(files.values()))
    assert report["removed"] >= 5 and set(report["by_pair"]) == {
        "e3c-ner -> pharmaconer",
        "e3c-ner -> meddocan",
    }
    assert all(item["id"].startswith("e3c-ner/es/") for item in report["items"])  # only Spanish cases
    assert len(records) == report["records"] - report["removed"]
