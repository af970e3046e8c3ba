"""Log-likelihood multiple-choice scoring agrees with lm-evaluation-harness (HFLM + MMLU template)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from pipeline.evaluate.loglik import build_context, score_multiple_choice
from pipeline.evaluate.settings import LoglikSettings, StabilitySettings
from pipeline.examples import Example
from pipeline.tasks.readers import get_reader

N_TEST = 12
COLUMNS = ["question", "A", "B", "C", "D", "target"]


def mmlu_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [dict(zip(COLUMNS, row, strict=True)) for row in csv.reader(f)]


def mmlu_items(root: Path, subject: str) -> list[Example]:
    """The subject's shot pool and first test items as the pipeline reads them (`mmlu_csv`)."""
    docs = get_reader("mmlu_csv")(root, "en", {"subjects": [subject]})
    tests = [d for d in docs if d.split == "test"][:N_TEST]
    pool = [d for d in docs if d.split == LoglikSettings().fewshot_split]
    return [
        Example(d.id, "mmlu", "qa", "en", subject, d.split, d.text, d.gold, d.metadata) for d in pool + tests
    ]


def test_default_shots_are_lm_evals_dev_split(shared_data):
    """lm-eval's MMLU draws shots from the `dev` folder: so does the default `fewshot_split`."""
    root = shared_data / "qa" / "mmlu"
    shots = [i.gold["question"] for i in mmlu_items(root, "anatomy") if i.split != "test"]
    assert shots == [row["question"] for row in mmlu_rows(root / "dev" / "anatomy_dev.csv")]
    assert LoglikSettings().fewshot_split == StabilitySettings().fewshot_split


def lm_eval_task(root: Path, subject: str, cache: Path, variant: str = "default"):
    """The installed lm-eval's MMLU task config for `subject` (`default`: lettered; `continuation`:
    cloze), reading the local CSV files."""
    import lm_eval
    from lm_eval.api.task import ConfigurableTask

    folder = Path(lm_eval.__file__).parent / "tasks" / "mmlu" / variant
    template = yaml.safe_load((folder / f"_{variant}_template_yaml").read_text())
    subject_cfg = yaml.safe_load((folder / f"mmlu_{subject}.yaml").read_text())
    config = {**template, **{k: v for k, v in subject_cfg.items() if k not in ("include", "tag")}}
    config["metric_list"] = [{"metric": "acc"}, {"metric": "acc_norm"}]
    config["dataset_path"] = "csv"
    config["dataset_kwargs"] = {
        "data_files": {
            "test": str(root / "test" / f"{subject}_test.csv"),
            "dev": str(root / "dev" / f"{subject}_dev.csv"),
        },
        "column_names": COLUMNS,
        "cache_dir": str(cache),
    }
    config.pop("dataset_name", None)

    def process_docs(dataset):
        return dataset.map(lambda d: {"choices": [d[k] for k in "ABCD"], "answer": "ABCD".index(d["target"])})

    config["process_docs"] = process_docs
    return ConfigurableTask(config=config)


@pytest.mark.e2e
# Tiny models with and without a BOS token, and a real pretrained model (SmolLM2-135M-Instruct).
@pytest.mark.parametrize(("model", "adds_bos"), [("llama", True), ("qwen3", False), ("smollm2", False)])
def test_matches_lm_evaluation_harness(
    model, adds_bos, shared_data, tiny_model_factory, tmp_path, monkeypatch, request
):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval.models.huggingface import HFLM

    root, subject = shared_data / "qa" / "mmlu", "anatomy"
    model_dir = (
        request.getfixturevalue("smollm2") if model == "smollm2" else tiny_model_factory(model, "instruct")
    )
    items = mmlu_items(root, subject)
    task = lm_eval_task(root, subject, tmp_path / "hf-cache")
    docs = list(task.test_docs())[:N_TEST]
    lm = HFLM(pretrained=str(model_dir), device="cpu", batch_size=4)
    has_bos = lm.tok_encode("Answer:")[0] == lm.tokenizer.bos_token_id
    assert has_bos == adds_bos
    dev_items = [i for i in items if i.split == "train"]
    test_items = [i for i in items if i.split == "test"]

    for k in (0, 1):
        ours = score_multiple_choice(model_dir, items, k_shot=k, batch_size=4)
        assert [r.id for r in ours] == [i.id for i in test_items]
        contexts = [task.fewshot_context(doc, num_fewshot=k) for doc in docs]
        assert [build_context(item, dev_items[:k]) for item in test_items] == contexts
        requests = [
            task.construct_requests(doc, ctx, metadata=(task.config.task, doc_id, 1))
            for doc_id, (doc, ctx) in enumerate(zip(docs, contexts, strict=True))
        ]
        flat = lm.loglikelihood([r for doc_requests in requests for r in doc_requests], disable_tqdm=True)
        for doc_id, (doc, result) in enumerate(zip(docs, ours, strict=True)):
            theirs = flat[4 * doc_id : 4 * doc_id + 4]
            assert result.loglikelihoods == pytest.approx([ll for ll, _ in theirs], abs=1e-4)
            assert result.is_greedy == [greedy for _, greedy in theirs]
            metrics = task.process_results(doc, theirs)
            assert (result.acc, result.acc_norm) == (metrics["acc"], metrics["acc_norm"])
            assert result.gold == doc["answer"]


def test_prompt_and_item_checks():
    gold = {"question": " Which? ", "choices": ["x", "y"], "answer": 1, "context": None}
    shot = Example(
        "s", "mmlu", "qa", "en", "college_medicine", "train", "", gold, {"subject": "college_medicine"}
    )
    item = Example(
        "t", "mmlu", "qa", "en", "college_medicine", "test", "", gold, {"subject": "college_medicine"}
    )
    assert build_context(item, [shot]) == (
        "The following are multiple choice questions (with answers) about college medicine.\n\n"
        "Which?\nA. x\nB. y\nAnswer: B\n\nWhich?\nA. x\nB. y\nAnswer:"
    )
    with pytest.raises(ValueError, match="2 shots asked, 1"):
        score_multiple_choice("unused", [shot, item], k_shot=2, batch_size=1)
    no_subject = Example("u", "mmlu", "qa", "en", "x", "test", "", gold)
    with pytest.raises(ValueError, match=r"metadata\.subject"):
        score_multiple_choice("unused", [no_subject], k_shot=0, batch_size=1)
    bad_answer = Example("v", "mmlu", "qa", "en", "x", "test", "", {**gold, "answer": 5}, {"subject": "x"})
    with pytest.raises(ValueError, match="not an option index"):
        score_multiple_choice("unused", [bad_answer], k_shot=0, batch_size=1)


@pytest.mark.e2e
def test_cloze_template_matches_lm_evaluation_harness(shared_data, tiny_model_factory, tmp_path, monkeypatch):
    """The option's text as the continuation (lm-eval's mmlu_<subject>_continuation): same prompts,
    log-likelihoods, acc and acc_norm, and acc_norm (per character) differs from acc."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from lm_eval.models.huggingface import HFLM

    root, subject = shared_data / "qa" / "mmlu", "anatomy"
    model_dir = tiny_model_factory("llama", "instruct")
    items = mmlu_items(root, subject)
    task = lm_eval_task(root, subject, tmp_path / "hf-cache", "continuation")
    docs = list(task.test_docs())[:N_TEST]
    lm = HFLM(pretrained=str(model_dir), device="cpu", batch_size=4)
    shots = [i for i in items if i.split == "train"]
    tests = [i for i in items if i.split == "test"]
    k = 2
    ours = score_multiple_choice(model_dir, items, k_shot=k, batch_size=4, template="cloze")
    contexts = [task.fewshot_context(doc, num_fewshot=k) for doc in docs]
    assert [build_context(item, shots[:k], "cloze") for item in tests] == contexts
    assert contexts[0].startswith("The following are questions (with answers) about anatomy.")
    requests = [
        task.construct_requests(doc, ctx, metadata=(task.config.task, doc_id, 1))
        for doc_id, (doc, ctx) in enumerate(zip(docs, contexts, strict=True))
    ]
    assert requests[0][1].arguments[1] == " " + docs[0]["choices"][1]
    flat = lm.loglikelihood([r for doc_requests in requests for r in doc_requests], disable_tqdm=True)
    for doc_id, (doc, result) in enumerate(zip(docs, ours, strict=True)):
        theirs = flat[4 * doc_id : 4 * doc_id + 4]
        assert result.loglikelihoods == pytest.approx([ll for ll, _ in theirs], abs=1e-4)
        metrics = task.process_results(doc, theirs)
        assert (result.acc, result.acc_norm) == (metrics["acc"], metrics["acc_norm"])
    assert any(r.pred != r.pred_norm for r in ours)
