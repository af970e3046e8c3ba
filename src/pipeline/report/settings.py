"""The report's settings: defaults, validation, and what each key means."""

from __future__ import annotations

from typing import Any

# MMLU subjects of the medical group (the usual "medical MMLU" selection).
MEDICAL_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)

DEFAULTS: dict[str, Any] = {
    "seed": 0,  # base seed of every bootstrap
    "bootstrap_samples": 1000,  # replicates of the paired bootstrap tests
    "confidence": 0.95,  # interval coverage
    "alpha": 0.05,  # significance level of the marks
    "progression": {},  # arm -> CPT step, on top of the grid's checkpoint arms (their `step`)
    "task_groups": None,  # group -> tasks for the progression figure; null = one group per task
    "loglik_groups": {"medical": list(MEDICAL_SUBJECTS), "general": None},  # null = every other subject
    "loglik_metric": "acc",  # `acc` or `acc_norm` of the log-likelihood items
    "styles": {},  # arm -> evaluation style (`json` answer-only, `reasoning` explain) over the grid's
    "config_hash": None,  # stated in the index when given
}


def _bad(key: str, why: str, value: Any) -> ValueError:
    return ValueError(f"report settings[{key!r}] {why}, got {value!r}")


def _str_list(key: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(key, "must be a list of strings", value)


def resolve_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with `settings`; unknown keys and ill-typed values raise ValueError."""
    if not isinstance(settings, dict):
        raise ValueError(f"report settings must be a JSON object, got {settings!r}")
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown report settings {unknown}; known: {sorted(DEFAULTS)}")
    s = {**DEFAULTS, **settings}
    for key in ("seed", "bootstrap_samples"):
        if isinstance(s[key], bool) or not isinstance(s[key], int):
            raise _bad(key, "must be an integer", s[key])
    if s["bootstrap_samples"] < 2:
        raise _bad("bootstrap_samples", "must be >= 2", s["bootstrap_samples"])
    for key in ("confidence", "alpha"):
        if not isinstance(s[key], int | float) or not 0 < s[key] < 1:
            raise _bad(key, "must be in (0, 1)", s[key])
    progression = s["progression"]
    if not isinstance(progression, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in progression.values()
    ):
        raise _bad("progression", "must map arm names to non-negative integer steps", progression)
    if s["task_groups"] is not None:
        if not isinstance(s["task_groups"], dict) or not s["task_groups"]:
            raise _bad("task_groups", "must be a non-empty mapping group -> tasks or null", s["task_groups"])
        for group, tasks in s["task_groups"].items():
            _str_list(f"task_groups.{group}", tasks)
    groups = s["loglik_groups"]
    if not isinstance(groups, dict) or set(groups) != {"medical", "general"}:
        raise _bad("loglik_groups", "must have exactly the keys 'medical' and 'general'", groups)
    if groups["medical"] is None and groups["general"] is None:
        raise _bad("loglik_groups", "may leave at most one group null", groups)
    for name, subjects in groups.items():
        if subjects is not None:
            _str_list(f"loglik_groups.{name}", subjects)
    if s["loglik_metric"] not in ("acc", "acc_norm"):
        raise _bad("loglik_metric", "must be 'acc' or 'acc_norm'", s["loglik_metric"])
    styles = s["styles"]
    if not isinstance(styles, dict) or not all(v in ("json", "reasoning") for v in styles.values()):
        raise _bad("styles", "must map arm names to 'json' or 'reasoning'", styles)
    if s["config_hash"] is not None and not isinstance(s["config_hash"], str):
        raise _bad("config_hash", "must be a string or null", s["config_hash"])
    return s
