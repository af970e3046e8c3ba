"""The whole config checked before any job runs, every error naming its config key.

Three layers, all at DAG time and torch-free:

1. the schema (workflow/schemas/config.schema.yaml): names, types, value ranges and unknown keys
   of every section, stage settings included;
2. every stage's settings object (`pipeline.dag.grid.Grid.stage_settings`) for every model × arm: method
   defaults, size class and arm overrides through the stage's own dataclass, which knows the rules
   between keys (e.g. `max_steps` and `epochs` are exclusive);
3. cross-references: arms, mixes, traces, corpora, sources, registry datasets, log-likelihood subjects.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.schema_errors import describe, key_path

if TYPE_CHECKING:
    from pipeline.dag.grid import Grid

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"
MAX_REPORTED = 20
# The stages whose settings are the same for every job (the grid's seed and sections).
GLOBAL_STAGES = (
    "stability",
    "loglik",
    "score",
    "summary",
    "report",
    "corpus_clean",
    "corpus_blocks",
    "preferences",
    "extract",
)
# What each method's arm keys mean; a key of another method is a mistake, not an option.
ARM_KEYS = {"cpt": {"corpus"}, "sft": {"mix"}, "checkpoint": {"step"}}


class ConfigError(ValueError):
    """A config that cannot run; the message names every offending key."""


@cache
def _validator() -> Any:
    import jsonschema

    from pipeline.io import load_yaml

    schema = load_yaml(SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def schema_errors(config: Any) -> list[str]:
    """Every schema violation of `config`, one line each, in key order."""
    lines: list[str] = []
    for error in sorted(_validator().iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path]):
        lines.extend(describe(error))
    return lines


def raise_errors(lines: list[str]) -> None:
    if lines:
        more = f"\n... and {len(lines) - MAX_REPORTED} more" if len(lines) > MAX_REPORTED else ""
        raise ConfigError("invalid config:\n" + "\n".join(lines[:MAX_REPORTED]) + more)


def check_schema(config: Any) -> None:
    """Raise ConfigError listing every schema violation of `config`."""
    raise_errors(schema_errors(config))


# -- effective stage settings ------------------------------------------------------------------
def settings_errors(grid: Grid) -> list[str]:
    """Every stage's settings object, resolved by the grid for every model × arm (and corpus, mix) as
    the jobs get them: the stage's own rules beyond the schema (e.g. `max_steps` and `epochs` are
    exclusive), on the values after method defaults, size class and arm overrides."""
    lines: list[str] = []

    def resolve(stage: str, **job: str) -> bool:
        try:
            grid.stage_settings(stage, **job)
        except ValueError as err:
            lines.append(f"config key {err}")
            return False
        return True

    for stage in GLOBAL_STAGES:
        resolve(stage)
    if grid.lm_eval_tasks:
        resolve("lm_eval")
    for corpus in grid.config["corpus"]["corpora"]:
        resolve("corpus_build", corpus=corpus)
    for mix in grid.config.get("mixes") or {}:
        resolve("mix", mix=mix)
    for traces in grid.config.get("traces") or {}:
        resolve("traces", traces=traces)
    for arm in grid.arms.values():
        resolve("generation", arm=arm.name)
        if arm.method in ("cpt", "sft", "rpo", "merge"):
            for model in grid.models:  # the first bad size class of an arm is enough
                if not resolve(arm.method, model=model, arm=arm.name):
                    break
    return list(dict.fromkeys(lines))


# -- cross-references --------------------------------------------------------------------------
def _unknown(where: str, names: Iterable[str], known: Iterable[str], what: str) -> list[str]:
    known = list(known)
    return [
        f"config key {where}: unknown {what} {name!r} (known: {', '.join(known) or 'none'})"
        for name in names
        if name not in known
    ]


def loglik_subjects(grid: Grid) -> set[str] | None:
    """Every subject the log-likelihood datasets can have (an item's own subject, else its dataset's
    name with '_' for '-'), or None when the data decides (an MMLU folder without `subjects` option)."""
    subjects = {name.replace("-", "_") for name in grid.loglik_datasets}
    for name in grid.loglik_datasets:
        spec = grid.registry[name]
        if spec.reader == "mmlu_csv":
            per_language = [(o or {}).get("subjects") for o in (spec.options.get("languages") or {}).values()]
            if spec.options.get("subjects") is None and (not per_language or None in per_language):
                return None
            subjects.update(
                s for group in [spec.options.get("subjects"), *per_language] if group for s in group
            )
    return subjects


def reference_errors(grid: Grid) -> list[str]:
    """Names that point at nothing: datasets, arms, traces, sources, log-likelihood subjects."""
    config, registry = grid.config, list(grid.registry)
    lines = _unknown("evaluate_datasets", config.get("evaluate_datasets") or [], registry, "dataset")
    lines += _unknown(
        "training.preferences.datasets",
        (config.get("training", {}).get("preferences") or {}).get("datasets") or [],
        registry,
        "dataset",
    )
    reference = (config.get("scoring") or {}).get("reference_arm")
    if reference is not None:
        lines += _unknown("scoring.reference_arm", [reference], grid.arms, "arm")
    for mix, spec in (config.get("mixes") or {}).items():
        lines += _unknown(
            f"mixes.{key_path([mix])}.traces", spec.get("traces", []), config.get("traces") or {}, "traces"
        )
    sources = config["corpus"]["sources"]
    for corpus, spec in config["corpus"]["corpora"].items():
        lines += _unknown(f"corpus.corpora.{key_path([corpus])}.sources", spec["sources"], sources, "source")
    for arm in grid.arms.values():
        for method, keys in ARM_KEYS.items():
            for key in sorted(keys & set(arm.spec)) if arm.method != method else []:
                lines.append(
                    f"config key arms.{key_path([arm.name, key])}: applies to {method} arms, not {arm.method}"
                )
    for section in ("loglik", "stability", "training.preferences"):
        chosen = config
        for part in section.split("."):
            chosen = chosen.get(part) or {}
        for name in chosen.get("datasets") or []:
            if name in grid.registry and grid.registry[name].task != "qa":
                lines.append(
                    f"config key {section}.datasets: {name!r} is a {grid.registry[name].task} dataset, not qa"
                )
    groups = (config.get("loglik") or {}).get("groups") or {}
    if groups and all(groups.get(g) is None for g in ("medical", "general")):
        lines.append(
            "config key loglik.groups: at most one of medical, general may be null (= every other subject)"
        )
    subjects = loglik_subjects(grid)
    if subjects is not None:
        for group, chosen in groups.items():
            lines += _unknown(f"loglik.groups.{group}", chosen or [], sorted(subjects), "subject")
    return lines


def check_grid(grid: Grid) -> None:
    """Raise ConfigError naming every key whose settings or references are wrong."""
    raise_errors(reference_errors(grid) + settings_errors(grid))


def check_resource_rules(config: dict[str, Any], rules: Iterable[str]) -> None:
    """`resources.rules` and `resources.sizes.<size>` name rules of the workflow (a typo would
    silently leave that rule with the default resources)."""
    section = config.get("resources") or {}
    known = sorted(rules)
    lines = _unknown("resources.rules", section.get("rules") or {}, known, "rule")
    for size, by_rule in (section.get("sizes") or {}).items():
        lines += _unknown(f"resources.sizes.{key_path([size])}", by_rule or {}, known, "rule")
    raise_errors(lines)
