"""Settings of the evaluation stages: generation (and its decoding), explanation stability,
log-likelihood scoring, lm-evaluation-harness, scoring and the summary (docs/evaluation.md).

Torch-free: the workflow checks them when it starts (`pipeline.settings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pipeline.settings import SettingsError, StageSettings, at_least, require
from pipeline.tasks.settings import check_prompt_language

Backend = Literal["transformers", "vllm"]
Split = Literal["train", "dev", "test"]
# The summary's columns a multiple-comparison family can be split by (pipeline.summary.COLUMNS).
CorrectionColumn = Literal[
    "model",
    "family",
    "variant",
    "size",
    "arm",
    "evaluation",
    "style",
    "dataset",
    "language",
    "task",
    "subtask",
    "metric",
]


@dataclass(frozen=True)
class Decoding(StageSettings):
    """Decoding settings; greedy when temperature is 0.

    `stop`: strings that end a completion (the prompt style's `stop_sequences`); the completion is
    cut before the first of them, which is not part of its text, and its finish reason is "stop".
    """

    WHERE = "generation.decoding"

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()

    def validate(self) -> None:
        at_least(self, 1, "max_new_tokens")
        at_least(self, 0, "temperature")
        require(0 < self.top_p <= 1, "top_p", f"must be in (0, 1], got {self.top_p!r}")
        require(all(self.stop), "stop", f"must be a list of non-empty strings, got {list(self.stop)!r}")

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Decoding:
        """`generation.decoding` of a config."""
        return cls.from_mapping(settings)

    def with_stop(self, stop: tuple[str, ...]) -> Decoding:
        """These settings, also stopping at `stop` (kept in order, without duplicates)."""
        return replace(self, stop=tuple(dict.fromkeys((*stop, *self.stop))))


@dataclass(frozen=True)
class GenerationSettings(StageSettings):
    """How an arm's test prompts are answered (`pipeline.evaluate.generate`)."""

    WHERE = "generation"

    backend: Backend = "transformers"
    batch_size: int = 16
    chunk_size: int | None = None  # prompts per backend call (cached at once); null: batch_size
    prompt_language: str = "en"
    max_test_per_cell: int | None = None
    thinking: bool = False  # thinking mode of templates that have one (Qwen3)
    style: Literal["json", "reasoning"] = "json"  # the arm's eval_style
    decoding: Decoding = field(default_factory=Decoding)

    def validate(self) -> None:
        at_least(self, 1, "batch_size", "chunk_size", "max_test_per_cell")
        check_prompt_language(self)

    @property
    def chunk(self) -> int:
        """Prompts per backend call."""
        return self.chunk_size or self.batch_size


@dataclass(frozen=True)
class StabilitySettings(StageSettings):
    """Explanation stability (`pipeline.evaluate.stability`): k-shot multiple-choice questions asked
    answer-only and explain-then-answer, with generation settings of their own decoding."""

    WHERE = "stability"

    k_shot: int = 0
    fewshot_split: Split = "train"
    max_items_per_cell: int | None = None
    generation: GenerationSettings = field(default_factory=GenerationSettings)

    def validate(self) -> None:
        at_least(self, 0, "k_shot")
        at_least(self, 1, "max_items_per_cell")


@dataclass(frozen=True)
class LoglikSettings(StageSettings):
    """Log-likelihood multiple-choice scoring (`pipeline.evaluate.loglik_cells`)."""

    WHERE = "loglik.settings"

    k_shot: int = 0
    batch_size: int = 8
    fewshot_split: Split = "train"
    max_items_per_cell: int | None = None
    # mmlu: lettered options, continuation the letter; cloze: the option's text (pipeline.evaluate.loglik)
    template: Literal["mmlu", "cloze"] = "mmlu"
    seed: int = 0  # draws the capped cells' items

    def validate(self) -> None:
        at_least(self, 0, "k_shot")
        at_least(self, 1, "batch_size", "max_items_per_cell")


@dataclass(frozen=True)
class LmEvalSettings(StageSettings):
    """lm-evaluation-harness tasks on one model folder (`pipeline.evaluate.harness`)."""

    WHERE = "lm_eval"

    tasks: tuple[str, ...]  # tasks, groups or tags of lm-eval's registry or of include_path
    include_path: str | None = None
    num_fewshot: int | None = None  # null: each task's own
    batch_size: int | str = 8
    limit: int | None = None  # documents per task (a smoke test)
    device: str | None = None  # null: cuda when available, else cpu
    dtype: str = "auto"
    apply_chat_template: bool = False
    bootstrap_iters: int = 1000
    seed: int = 0
    confidence: float = 0.95  # of the score rows' intervals

    def validate(self) -> None:
        require(
            bool(self.tasks) and all(self.tasks),
            "tasks",
            f"must be a non-empty list of task or group names, got {list(self.tasks)!r}",
        )
        at_least(self, 0, "num_fewshot", "bootstrap_iters")
        at_least(self, 1, "limit")
        _check_confidence(self.confidence)


@dataclass(frozen=True)
class ScoreSettings(StageSettings):
    """Scoring prediction files (`pipeline.evaluate.score`): bootstrap intervals."""

    WHERE = "scoring"

    bootstrap_samples: int = 1000
    seed: int = 0
    confidence: float = 0.95

    def validate(self) -> None:
        at_least(self, 2, "bootstrap_samples")
        _check_confidence(self.confidence)


@dataclass(frozen=True)
class ModelColumns(StageSettings):
    """What the summary says of a model: the family, variant and size class of its config entry."""

    family: str
    variant: Literal["base", "instruct"]
    size: str = ""


@dataclass(frozen=True)
class SummarySettings(ScoreSettings):
    """The summary's paired tests against the reference arm (`pipeline.summary`), and the grid's
    models (by name) whose columns its rows get."""

    reference_arm: str = "base"
    correction: Literal["holm", "bh", "none"] = "holm"  # of the p-values (pipeline.evaluate.stats)
    correction_by: tuple[CorrectionColumn, ...] = ()  # columns splitting the tests into families
    models: dict[str, ModelColumns] = field(default_factory=dict)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise SettingsError("confidence", f"must be in (0, 1), got {confidence!r}")
