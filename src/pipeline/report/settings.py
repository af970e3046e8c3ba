"""The report's settings: defaults, validation, and what each key means (docs/report.md).

Torch-free: the workflow checks them when it starts (`pipeline.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.settings import SettingsError, StageSettings, at_least, require

# MMLU subjects of the medical group (the usual "medical MMLU" selection).
MEDICAL_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


@dataclass(frozen=True)
class LoglikGroups(StageSettings):
    """Subjects of the forgetting analysis's two groups; null = every other subject."""

    medical: tuple[str, ...] | None = MEDICAL_SUBJECTS
    general: tuple[str, ...] | None = None

    def validate(self) -> None:
        if self.medical is None and self.general is None:
            raise SettingsError("", "at most one of medical, general may be null (= every other subject)")


@dataclass(frozen=True)
class ReportSettings(StageSettings):
    """`pipeline.report`: the paired tests, the groups and the arms' roles of the report."""

    WHERE = "report settings"

    seed: int = 0  # base seed of every bootstrap
    bootstrap_samples: int = 1000  # replicates of the paired bootstrap tests
    confidence: float = 0.95  # interval coverage
    alpha: float = 0.05  # significance level of the marks
    progression: dict[str, int] = field(default_factory=dict)  # arm -> CPT step, beside checkpoint arms
    task_groups: dict[str, tuple[str, ...]] | None = None  # group -> tasks; null = one group per task
    loglik_groups: LoglikGroups = field(default_factory=LoglikGroups)
    loglik_metric: Literal["acc", "acc_norm"] = "acc"  # of the log-likelihood items
    styles: dict[str, Literal["json", "reasoning"]] = field(default_factory=dict)  # arm -> style

    def validate(self) -> None:
        at_least(self, 2, "bootstrap_samples")
        for key in ("confidence", "alpha"):
            value = getattr(self, key)
            require(0 < value < 1, key, f"must be in (0, 1), got {value!r}")
        for arm, step in self.progression.items():
            require(step >= 0, f"progression.{arm}", f"must be a non-negative step, got {step!r}")
        require(
            self.task_groups is None or bool(self.task_groups),
            "task_groups",
            "must be a non-empty mapping group -> tasks, or null",
        )


def resolve_settings(settings: Mapping[str, Any] | ReportSettings) -> ReportSettings:
    """`settings` over the defaults, checked (the settings themselves when already parsed)."""
    return settings if isinstance(settings, ReportSettings) else ReportSettings.from_mapping(settings)
