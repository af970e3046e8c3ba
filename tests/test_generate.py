"""Generation stage: cache, output records, and the transformers backend."""

from __future__ import annotations

import json

import pytest

from pipeline.evaluate.backends import Completion, Decoding, TransformersBackend, cut_at_stop, sampling_params
from pipeline.evaluate.cache import CompletionCache, model_fingerprint
from pipeline.evaluate.generate import Request, generate_cells, select_test_examples
from pipeline.evaluate.settings import GenerationSettings
from pipeline.examples import Example, parse_cell
from pipeline.io import write_jsonl
from pipeline.tasks.prompts import stop_sequences


def ner_example(i: int, text: str, split: str = "test") -> Example:
    start = text.index("fever") if "fever" in text else 0
    entities = (
        [{"start": start, "end": start + 5, "label": "DISEASE", "text": "fever"}] if "fever" in text else []
    )
    return Example(f"d-{i}", "demo-ner", "ner", "en", "disease", split, text, {"entities": entities})


class CountingBackend:
    """A backend that answers every prompt with a fixed JSON answer and counts its prompts."""

    def __init__(self) -> None:
        self.prompts: list[list[int]] = []

    def generate(self, prompts: list[list[int]], decoding: Decoding) -> list[Completion]:
        self.prompts.extend(prompts)
        return [Completion('{"entities": ["fever"]}', len(p), 7, "stop") for p in prompts]


@pytest.fixture
def setup(tmp_path, tiny_model_factory):
    model = tiny_model_factory("llama", "instruct")
    texts = ["The patient has fever.", "No complaints today.", "Fever and cough since Monday.", "Mild fever."]
    tasks = tmp_path / "demo-ner.jsonl"
    write_jsonl(tasks, [ner_example(i, t).to_record() for i, t in enumerate(texts)])
    return model, tasks, tmp_path


def requests(examples, style="json"):
    return [Request(cell, ex, style) for cell, exs in examples.items() for ex in exs]


def run(model, tasks, tmp_path, backend, settings=None):
    cells = [("demo-ner", "en", "disease")]
    examples = select_test_examples([tasks], cells, None)
    cache = CompletionCache(tmp_path / "cache")
    settings = GenerationSettings.from_mapping(settings or {})
    return generate_cells(model, requests(examples), settings, cache, lambda _: backend, "m", "a")


def test_records_carry_completion_gold_and_decoding(setup):
    model, tasks, tmp = setup
    predictions, throughput = run(model, tasks, tmp, CountingBackend())
    records = predictions[("json", ("demo-ner", "en", "disease"))]
    assert len(records) == 4 and throughput["generated"] == 4
    first = records[0]
    assert first["completion"] == '{"entities": ["fever"]}'
    assert first["gold"] == {"entities": ["fever"]}
    assert first["decoding"] == Decoding(stop=stop_sequences("json")).to_dict()
    assert "<|start_header_id|>user" in first["prompt"]


def test_cache_generates_only_changed_prompts(setup):
    model, tasks, tmp = setup
    run(model, tasks, tmp, CountingBackend())
    again = CountingBackend()
    _, throughput = run(model, tasks, tmp, again)
    assert again.prompts == [] and throughput["cached"] == 4

    records = [json.loads(line) for line in tasks.read_text().splitlines()]
    records[2]["text"] = "Fever and cough since Tuesday."
    write_jsonl(tasks, records)
    changed = CountingBackend()
    run(model, tasks, tmp, changed)
    assert len(changed.prompts) == 1


def test_cache_key_depends_on_decoding_and_backend(setup):
    model, tasks, tmp = setup
    run(model, tasks, tmp, CountingBackend())
    backend = CountingBackend()
    run(model, tasks, tmp, backend, {"decoding": {"max_new_tokens": 7}})
    assert len(backend.prompts) == 4
    other = CountingBackend()
    run(model, tasks, tmp, other, {"backend": "vllm"})
    assert len(other.prompts) == 4


class DyingBackend(CountingBackend):
    """Answers its first call, then dies like a killed job."""

    def generate(self, prompts, decoding):
        if self.prompts:
            raise KeyboardInterrupt("killed")
        return super().generate(prompts, decoding)


def test_a_killed_job_resumes_where_it_stopped(setup):
    model, tasks, tmp = setup
    with pytest.raises(KeyboardInterrupt):
        run(model, tasks, tmp, DyingBackend(), {"chunk_size": 3})
    resumed = CountingBackend()
    _, throughput = run(model, tasks, tmp, resumed, {"chunk_size": 3})
    assert len(resumed.prompts) == 1 and throughput["cached"] == 3


def test_a_job_killed_half_way_regenerates_only_what_was_missing(setup):
    """The CLI, SIGKILLed after its first cached chunk, then rerun: only the rest is generated."""
    import os
    import signal
    import subprocess
    import sys

    model, tasks, tmp = setup
    settings = {"decoding": {"max_new_tokens": 4}, "batch_size": 3}
    cmd = [
        sys.executable, "-m", "pipeline.evaluate.generate", "--model", str(model), "--tasks", str(tasks),
        "--cells", "demo-ner/en/disease", "--output-dir", str(tmp / "pred"), "--throughput",
        str(tmp / "tp.json"), "--cache", str(tmp / "cache"), "--settings", json.dumps(settings),
        "--model-name", "m", "--arm", "a",
    ]  # fmt: skip
    env = {**os.environ, "MEDADAPT_FAULT_KILL_AFTER_CHUNKS": "1"}
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL and not (tmp / "tp.json").exists()
    subprocess.run(cmd, check=True, capture_output=True)
    throughput = json.loads((tmp / "tp.json").read_text())
    assert (throughput["cached"], throughput["generated"]) == (3, 1)


def test_generation_logs_its_progress(setup, caplog):
    model, tasks, tmp = setup
    with caplog.at_level("INFO", logger="pipeline.evaluate.generate"):
        run(model, tasks, tmp, CountingBackend(), {"chunk_size": 2})
    assert "4 prompts, 0 cached, 4 to generate" in caplog.text
    assert "generated: 4/4 (100%)" in caplog.text and "ETA 0 s" in caplog.text


def test_progress_rate_counts_this_run_only():
    import logging

    from pipeline.progress import Progress

    progress = Progress(100, "training steps", logging.getLogger("t"), done=40)
    progress.done = 60
    assert progress.line(10.0) == "training steps: 60/100 (60%), 2.00/s, elapsed 10 s, ETA 20 s"


def test_prompts_go_longest_first_in_chunks(setup):
    model, tasks, tmp = setup
    backend = CountingBackend()
    run(model, tasks, tmp, backend, {"chunk_size": 2})
    lengths = [len(p) for p in backend.prompts]
    assert lengths == sorted(lengths, reverse=True)


def _write_entries(root, fingerprint, start):
    cache = CompletionCache(root)
    for i in range(start, start + 200, 10):
        cache.put(fingerprint, {f"k{j}": Completion(f"text {j}", 1, 1, "stop") for j in range(i, i + 10)})


def test_concurrent_writers_lose_nothing(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_entries, args=(tmp_path, "f" * 64, 1000 * w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    found = CompletionCache(tmp_path).load("f" * 64)
    assert len(found) == 800 and found["k3005"].text == "text 3005"
    assert len(list(tmp_path.rglob("*.jsonl"))) == 4  # one shard per writer, never a shared file


def test_unfinished_and_corrupt_shards(tmp_path, caplog):
    cache = CompletionCache(tmp_path)
    cache.put("a" * 64, {"k1": Completion("one", 1, 1, "stop")})
    shard = next(tmp_path.rglob("*.jsonl"))
    with shard.open("a") as f:
        f.write('{"key": "k2", "completion": {"te')  # a write under way (or killed) is not an entry
    assert set(CompletionCache(tmp_path).load("a" * 64)) == {"k1"}

    garbage = shard.parent / "other.jsonl"
    garbage.write_bytes(b"\x00\xffSQLite format 3\n")
    with caplog.at_level("WARNING"):
        found = CompletionCache(tmp_path).load("a" * 64)
    assert set(found) == {"k1"}
    assert str(garbage) in caplog.text and not garbage.exists()
    assert garbage.with_suffix(".corrupt").exists()


def test_base_variant_is_prompted_plainly_despite_a_chat_template(setup, tmp_path):
    import shutil

    model, tasks, _ = setup
    base = tmp_path / "as-base"
    shutil.copytree(model, base)
    record = json.loads((base / "medadapt_model.json").read_text())
    (base / "medadapt_model.json").write_text(json.dumps({**record, "variant": "base"}))
    predictions, _ = run(base, tasks, tmp_path, CountingBackend())
    prompt = predictions[("json", ("demo-ner", "en", "disease"))][0]["prompt"]
    assert "<|start_header_id|>" not in prompt and prompt.startswith("<|begin_of_text|>")


class ThinkingBackend(CountingBackend):
    def generate(self, prompts, decoding):
        self.prompts.extend(prompts)
        return [Completion('<think>fever is a symptom</think>\n{"entities": ["fever"]}', 1, 9, "stop")] * len(
            prompts
        )


def test_a_thinking_block_is_removed_before_parsing(setup):
    model, tasks, tmp = setup
    predictions, _ = run(model, tasks, tmp, ThinkingBackend())
    first = predictions[("json", ("demo-ner", "en", "disease"))][0]
    assert first["completion"] == '{"entities": ["fever"]}'
    assert first["thinking"] == "fever is a symptom"


def test_per_task_adapters_answer_their_task(setup, tmp_path):
    """A model trained with one adapter per task answers each task with that task's adapter."""
    import shutil

    model, tasks, _ = setup
    per_task = tmp_path / "per-task"
    shutil.copytree(model, per_task)
    shutil.copytree(model, per_task / "adapters" / "ner")
    (per_task / "adapters.json").write_text(json.dumps({"ner": "adapters/ner"}))
    asked: list = []

    def factory(path):
        asked.append(path)
        return CountingBackend()

    examples = select_test_examples([tasks], [("demo-ner", "en", "disease")], None)
    generate_cells(
        per_task, requests(examples), GenerationSettings(), CompletionCache(tmp_path / "cache"), factory
    )
    assert asked == [per_task / "adapters" / "ner"]
    (per_task / "adapters.json").write_text(json.dumps({"qa": "adapters/qa"}))
    with pytest.raises(ValueError, match="no adapter for task 'ner'"):
        generate_cells(
            per_task, requests(examples), GenerationSettings(), CompletionCache(tmp_path / "c2"), factory
        )


def test_fingerprint_changes_with_weights(tmp_path, tiny_model_factory):
    import shutil

    model = tiny_model_factory("qwen3", "base")
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    assert model_fingerprint(model) == model_fingerprint(copy)
    (copy / "model.safetensors").write_bytes((copy / "model.safetensors").read_bytes()[:-4] + b"\0\0\0\1")
    assert model_fingerprint(model) != model_fingerprint(copy)


def test_the_cache_hashes_an_unchanged_model_once(tmp_path, tiny_model_factory, monkeypatch):
    """Jobs on one model folder share its fingerprint through the cache; a weight file rewritten in
    place (same size, same modification time) or a corrupt memo is hashed again."""
    import os
    import shutil

    import pipeline.evaluate.cache as cache_module

    model = tmp_path / "model"
    shutil.copytree(tiny_model_factory("qwen3", "base"), model)
    expected = model_fingerprint(model)
    assert CompletionCache(tmp_path / "c").fingerprint(model) == expected
    assert len(list((tmp_path / "c" / "fingerprints").glob("*.sha256"))) == 1

    def no_hashing(path):
        raise AssertionError(f"hashed {path} again")

    with monkeypatch.context() as m:
        m.setattr(cache_module, "file_sha256", no_hashing)
        assert CompletionCache(tmp_path / "c").fingerprint(model) == expected  # another job, no hashing

    weights = model / "model.safetensors"
    before = weights.stat()
    weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\1")
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert weights.stat().st_size == before.st_size and weights.stat().st_mtime_ns == before.st_mtime_ns
    changed = CompletionCache(tmp_path / "c").fingerprint(model)
    assert changed == model_fingerprint(model) != expected

    current = tmp_path / "c" / "fingerprints" / f"{cache_module.files_state(model)}.sha256"
    current.write_text("not a digest\n")
    assert CompletionCache(tmp_path / "c").fingerprint(model) == changed
    assert current.read_text() == changed + "\n"


def test_cli_writes_one_file_per_cell_and_throughput(setup):
    from pipeline.evaluate.generate import main

    model, tasks, tmp = setup
    settings = {"decoding": {"max_new_tokens": 4}, "batch_size": 2}
    main(
        [
            "--model",
            str(model),
            "--tasks",
            str(tasks),
            "--cells",
            "demo-ner/en/disease",
            "--output-dir",
            str(tmp / "pred"),
            "--throughput",
            str(tmp / "tp.json"),
            "--cache",
            str(tmp / "cli-cache"),
            "--settings",
            json.dumps(settings),
            "--model-name",
            "m",
            "--arm",
            "a",
        ]
    )
    records = [json.loads(line) for line in (tmp / "pred" / "demo-ner" / "en" / "disease.jsonl").open()]
    assert len(records) == 4 and all(r["completion_tokens"] <= 4 for r in records)
    assert {(r["model"], r["arm"]) for r in records} == {("m", "a")}
    throughput = json.loads((tmp / "tp.json").read_text())
    assert throughput["generated"] == 4 and (throughput["model"], throughput["arm"]) == ("m", "a")
    (memo,) = (tmp / "cli-cache" / "fingerprints").glob("*.sha256")  # the next job on `model` reads it
    assert memo.read_text().strip() == model_fingerprint(model)
    identity = {"model": "m"}  # not a setting: --model-name
    with pytest.raises(ValueError, match=r"generation: unknown key\(s\) \['model'\]"):
        main(["--model", str(model), "--tasks", str(tasks), "--cells", "demo-ner/en/disease", "--output-dir",
              str(tmp / "p2"), "--throughput", str(tmp / "t2.json"), "--cache", str(tmp / "c2"),
              "--settings", json.dumps(identity)])  # fmt: skip


def test_missing_cell_is_a_clear_error(setup):
    _, tasks, _ = setup
    with pytest.raises(ValueError, match="demo-ner/it/disease"):
        select_test_examples([tasks], [("demo-ner", "it", "disease")], None)
    with pytest.raises(ValueError, match="dataset/language/subtask"):
        parse_cell("demo-ner/en")


@pytest.mark.parametrize("family", ["llama", "gemma3", "qwen3"])
def test_transformers_backend_batches_like_one_by_one(tiny_model_factory, family):
    """Left-padded batches give the same greedy output as unpadded single prompts."""
    model = tiny_model_factory(family, "instruct")
    backend = TransformersBackend(model, batch_size=4)
    prompts = [
        backend.tokenizer(t, add_special_tokens=False)["input_ids"]
        for t in [
            "fever",
            "Il paziente ha febbre e tosse da due giorni",
            "dolor",
            "The patient was given 20 mg",
        ]
    ]
    decoding = Decoding(max_new_tokens=6)
    batched = backend.generate(prompts, decoding)
    single = [backend.generate([p], decoding)[0] for p in prompts]
    assert [c.text for c in batched] == [c.text for c in single]
    assert all(c.completion_tokens <= 6 for c in batched)


def test_vllm_sampling_params_match_decoding():
    greedy = sampling_params(Decoding(max_new_tokens=9), dict)
    assert greedy == {
        "temperature": 0.0,
        "top_p": 1.0,
        "max_tokens": 9,
        "seed": 0,
        "stop": None,
        "skip_special_tokens": True,
    }
    assert sampling_params(Decoding(stop=("\nQuestion:",)), dict)["stop"] == ["\nQuestion:"]
    sampled = sampling_params(Decoding(temperature=0.7, top_p=0.9), dict)
    assert sampled["temperature"] == 0.7 and sampled["top_p"] == 0.9


def test_unknown_decoding_key_is_named():
    with pytest.raises(ValueError, match=r"generation.decoding: unknown key\(s\) \['beam'\]"):
        Decoding.from_settings({"beam": 4})
    with pytest.raises(ValueError, match=r"generation.decoding: unknown key\(s\) \['beam'\]"):
        GenerationSettings.from_mapping({"decoding": {"beam": 4}})


def test_transformers_backend_stops_at_stop_strings(tiny_model_factory):
    """Generation ends at a stop string; the completion is the text before it, finish reason "stop"."""
    backend = TransformersBackend(tiny_model_factory("llama", "base"), batch_size=2)
    prompts = [
        backend.tokenizer(t, add_special_tokens=False)["input_ids"] for t in ["fever", "dolor e tosse"]
    ]
    free = backend.generate(prompts, Decoding(max_new_tokens=12))
    text = free[0].text
    at = next(
        i for i in range(1, len(text) - 3) if text.find(text[i : i + 3]) == i and text[i : i + 3].strip()
    )
    stop = text[at : at + 3]
    stopped = backend.generate(prompts, Decoding(max_new_tokens=12, stop=(stop,)))
    assert stopped[0].text == text[: text.find(stop)] and stopped[0].finish_reason == "stop"
    assert stopped[0].completion_tokens < free[0].completion_tokens
    expected = cut_at_stop(free[1].text, (stop,))[0]
    assert stopped[1].text == expected


def test_cut_at_stop_takes_the_earliest_stop():
    assert cut_at_stop(" B\n\nQuestion: x\nContext: y", ("\nContext:", "\nQuestion:")) == (" B\n", True)
    assert cut_at_stop("no stop", ("\nQuestion:",)) == ("no stop", False)


class StyleRecordingBackend(CountingBackend):
    def __init__(self) -> None:
        super().__init__()
        self.decodings: list[Decoding] = []

    def generate(self, prompts, decoding):
        self.decodings.append(decoding)
        return super().generate(prompts, decoding)


def test_each_style_generates_with_its_stop_sequences(tmp_path, tiny_model_factory):
    """qa styles stop at a next question; their base-model prompt ends in its own cue, no header."""
    model = tiny_model_factory("llama", "base")
    gold = {"question": "Which nerve?", "choices": ["radial", "median"], "answer": 1, "context": None}
    example = Example("q-1", "demo-qa", "qa", "en", "mcqa", "test", "", gold)
    cell = example.cell
    reqs = [Request(cell, example, s) for s in ("qa_answer_only", "qa_explain", "json")]
    backend = StyleRecordingBackend()
    cache = CompletionCache(tmp_path / "cache")
    settings = GenerationSettings.from_mapping({"decoding": {"stop": ["<end>"]}})
    predictions, _ = generate_cells(model, reqs, settings, cache, lambda _: backend)
    assert sorted(d.stop for d in backend.decodings) == sorted(
        (*stop_sequences(s), "<end>") for s in ("json", "qa_answer_only", "qa_explain")
    )
    answer_only = predictions[("qa_answer_only", cell)][0]
    explain = predictions[("qa_explain", cell)][0]
    assert "\nQuestion:" in answer_only["decoding"]["stop"]
    assert answer_only["prompt"].endswith("B. median\nAnswer:")
    assert explain["prompt"].endswith("B. median\nExplanation:") and "###" not in explain["prompt"]
    assert predictions[("json", cell)][0]["prompt"].endswith("### Answer:\n")


def test_a_jobs_token_counts_are_its_own_prompts(setup):
    """Jobs per dataset share the model's cache: each counts the tokens of its own prompts only."""
    model, tasks, tmp = setup
    run(model, tasks, tmp, CountingBackend())
    records = [json.loads(line) for line in tasks.read_text().splitlines()]
    write_jsonl(tasks, records[:1])
    predictions, throughput = run(model, tasks, tmp, CountingBackend())
    (only,) = predictions[("json", ("demo-ner", "en", "disease"))]
    assert (throughput["prompt_tokens"], throughput["completion_tokens"]) == (only["prompt_tokens"], 7)
