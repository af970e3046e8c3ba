"""Settings of the LoRA trainers (SFT, RPO) and of the RPO preference pairs (docs/training.md).

Continual pretraining has its own (`pipeline.train.cpt_settings`). Torch-free: the workflow checks
them when it starts (`pipeline.settings`). Field order is the order of the run records' settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipeline.settings import SettingsError, StageSettings, at_least, require
from pipeline.train.cpt_settings import Scheduler

Task = Literal["ner", "re", "qa", "crf", "argmining"]


@dataclass(frozen=True)
class LoraSettings(StageSettings):
    """A LoRA adapter (PEFT's LoraConfig)."""

    r: int = 16
    alpha: float = 32
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"

    def validate(self) -> None:
        at_least(self, 1, "r")
        require(self.alpha > 0, "alpha", f"must be positive, got {self.alpha!r}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout!r}")
        modules = [self.target_modules] if isinstance(self.target_modules, str) else self.target_modules
        require(
            bool(modules) and all(modules),
            "target_modules",
            f"must be a module name or a non-empty list of them, got {self.target_modules!r}",
        )


@dataclass(frozen=True)
class SftFilter(StageSettings):
    """Which mix records an SFT arm trains on (null: all)."""

    tasks: tuple[Task, ...] | None = None
    languages: tuple[str, ...] | None = None


def _check_trainer(settings: SftSettings | RpoSettings) -> None:
    """What SFT and RPO share: a positive rate, a length of training, batches, integrations."""
    require(settings.lr > 0, "lr", f"must be a positive number, got {settings.lr!r}")
    at_least(settings, 0, "warmup")
    at_least(settings, 1, "max_steps", "per_device_batch_size", "gradient_accumulation")
    if settings.max_steps is None:
        require(
            settings.epochs > 0, "epochs", f"must be positive when max_steps is null, got {settings.epochs!r}"
        )
    require(
        all(settings.report_to),
        "report_to",
        f"must be a list of integration names, got {list(settings.report_to)!r}",
    )


@dataclass(frozen=True)
class SftSettings(StageSettings):
    """Supervised fine-tuning of a LoRA adapter (`pipeline.train.sft`)."""

    WHERE = "sft settings"
    NULL_IS_DEFAULT = frozenset({"filter"})

    lora: LoraSettings | None = field(default_factory=LoraSettings)
    loss: Literal["full", "completion_only"] = "full"  # instruction + answer, or the answer only
    lr: float = 2e-4
    lr_scheduler: Scheduler = "linear"
    warmup: float = 0  # steps, or a share of the steps when < 1
    epochs: float = 1
    max_steps: int | None = None
    per_device_batch_size: int = 4
    gradient_accumulation: int = 1
    max_length: int = 2048
    seed: int = 0
    merge_adapter: bool = True
    filter: SftFilter = field(default_factory=SftFilter)
    max_examples_per_task: int | None = None
    per_task_adapters: bool = False
    quantization: Literal["nf4"] | None = None  # QLoRA: a 4-bit NF4 base (CUDA only)
    gradient_checkpointing: bool = True
    fused_lm_head: bool | None = None  # TRL's chunked LM-head loss; null: on CUDA only
    report_to: tuple[str, ...] = ()  # Trainer integrations, e.g. ["tensorboard"] (OUT_DIR/tensorboard)

    def validate(self) -> None:
        if self.lora is None:
            raise SettingsError("lora", "SFT trains a LoRA adapter; give LoRA settings (or {} for defaults)")
        _check_trainer(self)
        at_least(self, 1, "max_length", "max_examples_per_task")


@dataclass(frozen=True)
class RpoSettings(StageSettings):
    """Reasoning preference optimisation, DPO + α·NLL (`pipeline.train.rpo`)."""

    WHERE = "rpo settings"

    loss: Literal["rpo", "dpo"] = "rpo"
    alpha: float = 10.0
    beta: float = 0.1
    lr: float = 5e-6
    lr_scheduler: Scheduler = "linear"
    warmup: float = 0
    epochs: float = 1
    max_steps: int | None = None
    per_device_batch_size: int = 2
    gradient_accumulation: int = 1
    max_length: int | None = 4096
    # the α·NLL term per token (TRL) or per sequence over |x|+|y| (Pang et al.)
    nll_normalization: Literal["token", "sequence"] = "token"
    lora: LoraSettings | None = field(default_factory=LoraSettings)  # null: every weight trains
    merge_adapter: bool = True
    seed: int = 0
    gradient_checkpointing: bool = True
    quantization: Literal["nf4"] | None = None  # QLoRA: a 4-bit NF4 base, LoRA adapter (CUDA only)
    report_to: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.lora is None and self.quantization is not None:
            raise SettingsError(
                "quantization", "QLoRA trains a LoRA adapter: it needs lora settings, not lora: null"
            )
        require(self.alpha >= 0, "alpha", f"must be >= 0, got {self.alpha!r}")
        require(self.beta > 0, "beta", f"must be > 0, got {self.beta!r}")
        at_least(self, 2, "max_length")
        _check_trainer(self)


@dataclass(frozen=True)
class PreferenceSettings(StageSettings):
    """Sampling the RPO preference pairs from the parent model (`pipeline.train.preferences`)."""

    WHERE = "training.preferences"

    k_shot: int = 3
    samples_per_question: int = 4
    temperature: float = 0.8
    max_new_tokens: int = 256
    max_questions: int | None = None
    seed: int = 0

    def validate(self) -> None:
        at_least(self, 0, "k_shot")
        at_least(self, 1, "samples_per_question", "max_new_tokens", "max_questions")
        require(self.temperature > 0, "temperature", f"must be > 0, got {self.temperature!r}")
