"""Log-likelihood multiple-choice scoring, with lm-evaluation-harness (HFLM, MMLU) semantics.

Each item becomes one request per option. Two templates, those of lm-eval's MMLU tasks:
``mmlu`` (``mmlu_<subject>``): context = description, k shots from the few-shot split, the
question with lettered options, ``Answer:``; continuation = " " + letter. ``cloze``
(``mmlu_<subject>_continuation``): context = description, shots, ``Question: ...\nAnswer:`` without
the options; continuation = " " + the option's text, so `acc_norm` (per character) differs from
`acc` where the options differ in length.
Tokenisation follows HFLM: trailing context whitespace moves to the continuation, context and
context+continuation are encoded with the tokenizer's default special tokens (so a BOS is added
where the tokenizer adds one, unless the text already starts with it), and the continuation is
the tail of the joint encoding. The score is the summed log-probability of the continuation
tokens; ``acc`` takes the arg-max, ``acc_norm`` the arg-max of log-likelihood divided by the
character length of the choice (lm-eval divides by the choice without the target delimiter).
Log-softmax is taken in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from pipeline.examples import Example
from pipeline.tasks.answers import OPTION_LETTERS

TARGET_DELIMITER = " "
FEWSHOT_DELIMITER = "\n\n"
TEMPLATES = ("mmlu", "cloze")


@dataclass(frozen=True)
class ItemResult:
    """Scores of one multiple-choice item: per-option log-likelihoods and the picks."""

    id: str
    subject: str
    gold: int
    loglikelihoods: list[float]
    is_greedy: list[bool]
    pred: int
    pred_norm: int
    acc: float
    acc_norm: float


def description(subject: str, template: str = "mmlu") -> str:
    kind = "multiple choice questions" if template == "mmlu" else "questions"
    return f"The following are {kind} (with answers) about {subject.replace('_', ' ')}.\n\n"


def doc_to_text(question: str, choices: list[str], template: str = "mmlu") -> str:
    """lm-eval's MMLU ``doc_to_text``: lettered options (as many as the item has), or none (cloze)."""
    if template == "cloze":
        return f"Question: {question.strip()}\nAnswer:"
    options = "".join(f"\n{OPTION_LETTERS[i]}. {c}" for i, c in enumerate(choices))
    return f"{question.strip()}{options}\nAnswer:"


def choices_of(item: Example, template: str = "mmlu") -> list[str]:
    """What each option's continuation is (without the target delimiter): its letter or its text."""
    choices = item.gold["choices"]
    return list(choices) if template == "cloze" else list(OPTION_LETTERS[: len(choices)])


def _subject(item: Example) -> str:
    subject = item.metadata.get("subject")
    if not isinstance(subject, str) or not subject:
        raise ValueError(f"item {item.id}: metadata.subject is missing")
    return subject


def build_context(item: Example, shots: list[Example], template: str = "mmlu") -> str:
    """The k-shot prompt of `item` in `template` (lm-eval's plain-text few-shot context)."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown loglik template {template!r}; known: {list(TEMPLATES)}")
    parts = [description(_subject(item), template)]
    for shot in shots:
        gold = shot.gold
        parts.append(
            doc_to_text(gold["question"], gold["choices"], template)
            + TARGET_DELIMITER
            + choices_of(shot, template)[gold["answer"]]
            + FEWSHOT_DELIMITER
        )
    parts.append(doc_to_text(item.gold["question"], item.gold["choices"], template))
    return "".join(parts)


def _check_item(item: Example) -> None:
    gold = item.gold
    if item.task != "qa" or not isinstance(gold.get("choices"), list) or not gold["choices"]:
        raise ValueError(f"item {item.id}: not a multiple-choice qa example")
    if not isinstance(gold.get("answer"), int) or not 0 <= gold["answer"] < len(gold["choices"]):
        raise ValueError(f"item {item.id}: answer {gold.get('answer')!r} is not an option index")


class LoglikelihoodScorer:
    """A causal LM and its tokenizer, scoring (context, continuation) pairs like lm-eval's HFLM."""

    def __init__(self, model_dir: str | Path, device: str | None = None, max_length: int | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").to(self.device).eval()
        config_length = getattr(self.model.config.get_text_config(), "max_position_embeddings", None)
        self.max_length = max_length or config_length or 2048

    def encode(self, text: str) -> list[int]:
        bos = self.tokenizer.bos_token
        if bos and text.startswith(bos):
            return self.tokenizer.encode(text, add_special_tokens=False)
        return self.tokenizer.encode(text)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
        whole = self.encode(context + continuation)
        context_enc = self.encode(context)
        return context_enc, whole[len(context_enc) :]

    @torch.no_grad()
    def loglikelihoods(self, pairs: list[tuple[str, str]], batch_size: int) -> list[tuple[float, bool]]:
        """(summed log-probability, whether greedy decoding yields it) of each continuation."""
        encoded = [self.encode_pair(c, x) for c, x in pairs]
        for (context, continuation), (_, cont) in zip(pairs, encoded, strict=True):
            if not cont:
                raise ValueError(f"continuation {continuation!r} of {context[-40:]!r} has no tokens")
        inputs = [tuple((ctx + cont)[-(self.max_length + 1) :][:-1]) for ctx, cont in encoded]
        unique = sorted(set(inputs), key=lambda t: (-len(t), t))  # one forward pass per distinct input
        # Keep only the rows a continuation is scored on, not the whole (length x vocabulary) matrix.
        tail: dict[tuple[int, ...], int] = {}
        for inp, (_, cont) in zip(inputs, encoded, strict=True):
            tail[inp] = max(tail.get(inp, 0), len(cont))
        logprobs: dict[tuple[int, ...], torch.Tensor] = {}
        for start in range(0, len(unique), batch_size):
            batch = unique[start : start + batch_size]
            width = len(batch[0])
            ids = torch.zeros((len(batch), width), dtype=torch.long)
            for row, seq in enumerate(batch):
                ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            logits = self.model(ids.to(self.device)).logits.float()
            for row, seq in enumerate(batch):
                rows = logits[row, len(seq) - tail[seq] : len(seq)]
                logprobs[seq] = torch.log_softmax(rows, dim=-1).cpu()
        results = []
        for inp, (_, cont) in zip(inputs, encoded, strict=True):
            scores = logprobs[inp][-len(cont) :]
            target = torch.tensor(cont, dtype=torch.long)
            greedy = bool((scores.argmax(dim=-1) == target).all())
            results.append((float(scores.gather(1, target[:, None]).sum()), greedy))
        return results


def score_multiple_choice(
    model_dir: str | Path,
    items: list[Example],
    k_shot: int,
    batch_size: int,
    fewshot_split: str = "train",
    device: str | None = None,
    max_length: int | None = None,
    scorer: LoglikelihoodScorer | None = None,
    template: str = "mmlu",
) -> list[ItemResult]:
    """Score every item not in `fewshot_split`; shots are the first `k_shot` items of that split
    with the same ``metadata.subject`` (lm-eval's ``first_n`` sampler). Pass `scorer` to reuse
    a loaded model across calls. `acc_norm` divides each log-likelihood by the character length
    of its continuation (without the delimiter), as lm-eval does."""
    for item in items:
        _check_item(item)
    pool: dict[str, list[Example]] = {}
    for item in items:
        if item.split == fewshot_split:
            pool.setdefault(_subject(item), []).append(item)
    targets = [item for item in items if item.split != fewshot_split]
    requests: list[tuple[str, str]] = []
    for item in targets:
        shots = pool.get(_subject(item), [])[:k_shot]
        if len(shots) < k_shot:
            raise ValueError(f"item {item.id}: {k_shot} shots asked, {len(shots)} in split {fewshot_split!r}")
        context = build_context(item, shots, template)
        requests += [(context, TARGET_DELIMITER + choice) for choice in choices_of(item, template)]
    scorer = scorer or LoglikelihoodScorer(model_dir, device, max_length)
    scores = scorer.loglikelihoods(requests, batch_size)
    results, offset = [], 0
    for item in targets:
        n = len(item.gold["choices"])
        lls, greedy = zip(*scores[offset : offset + n], strict=True)
        offset += n
        norm = [ll / len(choice) for ll, choice in zip(lls, choices_of(item, template), strict=True)]
        pred, pred_norm, gold = _argmax(lls), _argmax(norm), item.gold["answer"]
        results.append(
            ItemResult(
                item.id,
                _subject(item),
                gold,
                list(lls),
                list(greedy),
                pred,
                pred_norm,
                float(pred == gold),
                float(pred_norm == gold),
            )
        )
    return results


def _argmax(values: list[float] | tuple[float, ...]) -> int:
    """Index of the first maximum (numpy's tie-breaking, as in lm-eval)."""
    return max(range(len(values)), key=lambda i: (values[i], -i))
