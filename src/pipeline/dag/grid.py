"""The experiment grid as the workflow sees it: models × arms × evaluation cells.

Pure functions of the validated config, importable without Snakemake, so that
the DAG's shape and each stage's effective settings are unit-testable.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.examples import Cell
from pipeline.models.families import FAMILIES
from pipeline.models.sources import parse_source
from pipeline.schema_errors import key_path
from pipeline.settings import Settings, settings_class

# The stages whose settings are an arm's (over `training.<method>`; merge: the arm's alone).
TRAINED = ("cpt", "sft", "rpo", "merge")
# Every other stage, and what of a job its settings depend on (`mix`: an IT or RoT mix's settings).
STAGE_SECTIONS: dict[str, tuple[str, ...]] = {
    "generation": ("arm",),
    "stability": (),
    "loglik": (),
    "lm_eval": (),
    "score": (),
    "summary": (),
    "report": (),
    "corpus_clean": (),
    "corpus_build": ("corpus",),
    "corpus_blocks": (),
    "preferences": (),
    "extract": (),
    "traces": ("traces",),
    "mix": ("mix",),
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, recursing into nested mappings."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


@dataclass(frozen=True)
class Arm:
    name: str
    method: str
    parent: str | None
    spec: dict[str, Any]

    @property
    def eval_style(self) -> str:
        return self.spec.get("eval_style", "json")


class Grid:
    """Models, arms, datasets and cells of one config."""

    def __init__(
        self,
        config: dict[str, Any],
        registry_entries: dict[str, Any] | None,
        sources: dict[str, Any] | None = None,
        workdir: str | Path = ".",
        registry_origin: str = "dataset registry",
    ) -> None:
        """`registry_entries` None: the models and arms alone, without datasets (as the report reads them)."""
        from pipeline.data.sources import available_entries, load_sources
        from pipeline.tasks.registry import load_registry, spec_from_dict

        self.config = config
        if registry_entries is None:
            registry_entries = {}
        else:  # the whole registry is valid, restricted entries included
            load_registry({"datasets": registry_entries, "sources": sources or {}}, origin=registry_origin)
        self.sources = load_sources(sources)
        # Restricted sources the user has not placed under data/restricted/ leave the grid (or stop it).
        self.registry_entries, self.unavailable = available_entries(
            registry_entries, self.sources, Path(workdir)
        )
        self.dropped = set(registry_entries) - set(self.registry_entries)
        if self.unavailable and config.get("missing_restricted", "skip") == "error":
            raise ValueError("missing restricted data (missing_restricted: error):\n" + self.missing_report())
        self.registry = {name: spec_from_dict(name, entry) for name, entry in self.registry_entries.items()}
        self._check_traces()
        self.arms = {
            name: Arm(name, spec["method"], spec.get("parent"), spec) for name, spec in config["arms"].items()
        }
        self.model_sources = {
            name: parse_source(model["source"], f"models.{name}.source")
            for name, model in config["models"].items()
        }
        self._check_models()
        self._check_arms()

    def _check_models(self) -> None:
        for name, source in self.model_sources.items():
            family = self.config["models"][name]["family"]
            if source.kind == "tiny" and family not in FAMILIES:
                raise ValueError(
                    f"models.{name}.family: source 'tiny' builds {sorted(FAMILIES)}, not {family!r}"
                )

    def _check_arms(self) -> None:
        if "base" in self.arms and self.arms["base"].method != "none":
            raise ValueError("arms.base: the arm named 'base' is the untouched model (method: none)")
        for arm in self.arms.values():
            if arm.method == "none":
                if arm.name != "base":
                    raise ValueError(f"arms.{arm.name}: method 'none' is reserved for the arm named 'base'")
                continue
            if arm.parent is None:
                raise ValueError(f"arms.{arm.name}: a trained arm needs a parent arm")
            if arm.parent != "base" and arm.parent not in self.arms:
                raise ValueError(f"arms.{arm.name}.parent: unknown arm {arm.parent!r}")
            self.lineage(arm.name)  # raises on cycles
            if arm.method == "sft" and arm.spec.get("mix") not in self.config.get("mixes", {}):
                raise ValueError(f"arms.{arm.name}.mix: unknown mix {arm.spec.get('mix')!r}")
            if arm.method == "checkpoint":
                self._check_checkpoint(arm)
            if arm.method == "cpt" and arm.spec.get("corpus") not in self.config["corpus"]["corpora"]:
                raise ValueError(f"arms.{arm.name}.corpus: unknown corpus {arm.spec.get('corpus')!r}")
        for name in self._qa_section("lm_eval").get("arms") or []:
            if name not in self.arms:
                raise ValueError(f"lm_eval.arms: unknown arm {name!r}")
        for section in ("loglik", "stability"):
            for name in self._qa_section(section).get("datasets") or []:
                if name not in self.registry and name not in self.dropped:
                    raise ValueError(f"{section}.datasets: unknown dataset {name!r}")
            for name in self._qa_section(section).get("arms") or []:
                if name not in self.arms:
                    raise ValueError(f"{section}.arms: unknown arm {name!r}")

    def _check_traces(self) -> None:
        for name in self.config.get("traces") or {}:
            self.trace_targets(name)  # raises on a data/ path of an undeclared source

    def missing_report(self) -> str:
        """One line per missing restricted source: the datasets (or dataset/language) it leaves out."""
        by_message: dict[str, list[str]] = {}
        for key, message in sorted(self.unavailable.items()):
            by_message.setdefault(message, []).append(key)
        return "\n".join(f"  [{', '.join(keys)}] {message}" for message, keys in by_message.items())

    def data_targets(self, dataset: str) -> list[str]:
        """The fetch targets (source manifests) a dataset's extraction needs."""
        from pipeline.data.sources import fetch_targets

        return fetch_targets(self.registry_entries[dataset]["path"], self.sources, f"datasets.{dataset}.path")

    def trace_targets(self, traces: str) -> list[str]:
        """The fetch targets a trace source's extraction needs."""
        from pipeline.data.sources import fetch_targets

        return fetch_targets(self.config["traces"][traces]["path"], self.sources, f"traces.{traces}.path")

    def corpus_targets(self, corpus_source: str) -> list[str]:
        """The fetch targets a raw corpus source needs (paths of undeclared sources are the user's)."""
        from pipeline.data.sources import fetch_targets

        path = self.config["corpus"]["sources"][corpus_source]["path"]
        return fetch_targets(path, self.sources, f"corpus.sources.{corpus_source}.path", strict=False)

    @property
    def fetched_sources(self) -> list[str]:
        """Public sources that some dataset, trace or corpus source of the grid reads."""
        targets = {t for d in self.registry_entries for t in self.data_targets(d)}
        targets |= {t for name in self.config.get("traces") or {} for t in self.trace_targets(name)}
        targets |= {t for name in self.config["corpus"]["sources"] for t in self.corpus_targets(name)}
        return [s.name for s in self.sources.values() if s.manifest in targets]

    def _check_checkpoint(self, arm: Arm) -> None:
        """A checkpoint arm names a step its CPT parent exports, for every model where the parent's
        step count is fixed (`max_steps`); otherwise the CPT job checks it before training."""
        from pipeline.train.cpt_settings import unreachable_step

        parent = self.arms.get(arm.parent or "")
        if parent is None or parent.method != "cpt":
            raise ValueError(f"arms.{arm.name}.parent: a checkpoint arm's parent must be a cpt arm")
        kept = self.settings(parent.name).get("keep_checkpoints", [])
        if "step" not in arm.spec or (kept != "all" and arm.spec["step"] not in kept):
            raise ValueError(
                f"arms.{arm.name}.step: {arm.spec.get('step')!r} is not among the steps arm "
                f"{parent.name!r} keeps (training.cpt.keep_checkpoints: {kept!r})"
            )
        for model in self.models:
            settings = self.settings(parent.name, model)
            total = settings.get("max_steps")
            save = settings.get("save_steps")
            step = arm.spec["step"]
            if total is not None:
                why = unreachable_step(step, total, save, kept)
            elif kept == "all" and save is not None and step % save:
                why = f"keep_checkpoints: all exports every {save} steps (save_steps)"
            else:
                continue  # the step count follows from epochs and the corpus: checked at CPT start
            if why:
                raise ValueError(
                    f"arms.{arm.name}.step: {model}'s {parent.name!r} run never exports step "
                    f"{arm.spec['step']}: {why}"
                )

    def checkpoint_steps(self, cpt_arm: str) -> list[int]:
        """The steps the grid's checkpoint arms take from `cpt_arm` (its `required_checkpoints`)."""
        return sorted(
            {a.spec["step"] for a in self.arms.values() if a.method == "checkpoint" and a.parent == cpt_arm}
        )

    def lineage(self, arm: str) -> list[str]:
        """The chain of arms from `base` to `arm`, e.g. ['base', 'cpt', 'cpt-it']."""
        chain = [arm]
        while chain[-1] != "base":
            parent = self.arms[chain[-1]].parent
            if parent is None or parent in chain:
                raise ValueError(f"arms.{arm}: parent chain does not reach 'base' ({' -> '.join(chain)})")
            chain.append(parent)
        return chain[::-1]

    def training_data(self, arm: str) -> list[tuple[str, str]]:
        """The mixes and corpora the arms of `arm`'s lineage train on, as ("mix" | "corpus", name)."""
        kinds = {"sft": "mix", "cpt": "corpus"}
        arms = [self.arms[name] for name in self.lineage(arm) if name in self.arms]
        return [(kinds[a.method], a.spec[kinds[a.method]]) for a in arms if a.method in kinds]

    # -- what to build ---------------------------------------------------------------------
    @property
    def models(self) -> list[str]:
        return list(self.config["models"])

    def arms_with(self, method: str) -> list[str]:
        return [a.name for a in self.arms.values() if a.method == method]

    @property
    def eval_datasets(self) -> list[str]:
        chosen = self.config.get("evaluate_datasets")
        return list(self.registry) if chosen is None else [d for d in chosen if d not in self.dropped]

    def cells(self) -> list[Cell]:
        """Every (dataset, language, sub-task) cell that is evaluated."""
        from pipeline.tasks.registry import cells

        return [c for name in self.eval_datasets for c in cells(self.registry[name])]

    def _qa_section(self, section: str) -> dict[str, Any]:
        return self.config.get(section) or {}

    @property
    def loglik_datasets(self) -> list[str]:
        """Datasets scored by log-likelihood (knowledge and forgetting checks)."""
        return self._section_datasets("loglik")

    @property
    def loglik_arms(self) -> list[str]:
        return self._section_arms("loglik")

    def loglik_cells(self) -> list[Cell]:
        return self._qa_cells("loglik")

    @property
    def lm_eval_tasks(self) -> list[str]:
        """lm-evaluation-harness tasks, groups or tags run on each of `lm_eval_arms`."""
        return list(self._qa_section("lm_eval").get("tasks") or [])

    @property
    def lm_eval_arms(self) -> list[str]:
        return self._section_arms("lm_eval") if self.lm_eval_tasks else []

    @property
    def stability_datasets(self) -> list[str]:
        """Multiple-choice datasets asked answer-only and explain-then-answer (explanation stability)."""
        return self._section_datasets("stability")

    @property
    def stability_arms(self) -> list[str]:
        return self._section_arms("stability") if self.stability_datasets else []

    def stability_cells(self) -> list[Cell]:
        return self._qa_cells("stability")

    def _section_datasets(self, section: str) -> list[str]:
        return [d for d in self._qa_section(section).get("datasets") or [] if d not in self.dropped]

    def _section_arms(self, section: str) -> list[str]:
        chosen = self._qa_section(section).get("arms")
        return list(self.arms) if chosen is None else list(chosen)

    def _qa_cells(self, section: str) -> list[Cell]:
        from pipeline.tasks.registry import cells

        names = self._section_datasets(section)
        for name in names:
            if self.registry[name].task != "qa":
                raise ValueError(
                    f"{section}.datasets: {name!r} is a {self.registry[name].task} dataset, not qa"
                )
        return [c for name in names for c in cells(self.registry[name])]

    # -- settings --------------------------------------------------------------------------
    def settings(self, arm: str, model: str | None = None) -> dict[str, Any]:
        """The effective settings of an arm's training stage for `model`: method defaults, then the
        method's `sizes` entry for the model's size class (e.g. QLoRA for large models), then the arm's."""
        spec = self.arms[arm]
        defaults = dict(self.config.get("training", {}).get(spec.method, {}))
        by_size = defaults.pop("sizes", None) or {}
        size = self.config["models"][model].get("size") if model is not None else None
        return deep_merge(deep_merge(defaults, by_size.get(size, {})), spec.spec.get("settings", {}))

    def stage_settings(
        self,
        stage: str,
        model: str | None = None,
        arm: str | None = None,
        corpus: str | None = None,
        mix: str | None = None,
        traces: str | None = None,
    ) -> Settings:
        """The settings object of `stage` (a key of `pipeline.settings.STAGES`, or ``mix``) for a job
        of `model` × `arm` (`corpus`: of ``corpus_build``; `mix`: of ``mix``; `traces`: of ``traces``),
        from the config: the section's values over the stage's defaults, the run's seed where the stage
        has one, and for a trained or merged arm `settings(arm, model)`. Raises ValueError naming the
        config path."""
        job = {"model": model, "arm": arm, "corpus": corpus, "mix": mix, "traces": traces}
        if stage in TRAINED:
            mapping, where = self._arm_mapping(stage, model, arm)
        elif stage in STAGE_SECTIONS:
            mapping, where = getattr(self, f"_{stage}_mapping")(**{k: job[k] for k in STAGE_SECTIONS[stage]})
        else:
            raise ValueError(f"unknown stage {stage!r} (known: {sorted([*TRAINED, *STAGE_SECTIONS])})")
        if stage == "mix":
            from pipeline.tasks.settings import MIX_SETTINGS

            return MIX_SETTINGS[self.config["mixes"][mix]["kind"]].from_mapping(mapping, where)
        result: Settings = settings_class(stage).from_mapping(mapping, where)
        return result

    # Each stage's settings mapping as the config gives it, and the config path it comes from.
    def _arm_mapping(self, stage: str, model: str | None, arm: str | None) -> tuple[dict[str, Any], str]:
        if arm is None or self.arms[arm].method != stage:
            raise ValueError(f"stage {stage}: {arm!r} is not a {stage} arm")
        mapping, where = self.settings(arm, model), f"arms.{key_path([arm])}.settings"
        if stage == "cpt":
            mapping.pop("cpu_processes", None)  # the launcher's (the process layout), not the stage's
            mapping["required_checkpoints"] = self.checkpoint_steps(arm)
        if stage != "merge":
            sizes = {m.get("size") for m in self.config["models"].values()}
            size = self.config["models"][model].get("size") if model is not None else None
            note = f" for model size {size!r}" if model is not None and len(sizes) > 1 else ""
            where += f" (over training.{stage}{note})"
        return mapping, where

    def _section(self, *keys: str) -> dict[str, Any]:
        """The config's mapping at `keys` (empty when absent or null)."""
        node: Any = self.config
        for key in keys:
            node = (node or {}).get(key)
        return dict(node or {})

    def _scoring(self, *keys: str) -> dict[str, Any]:
        return {k: v for k, v in self._section("scoring").items() if k in keys}

    def _generation_mapping(self, arm: str | None) -> tuple[dict[str, Any], str]:
        style = {} if arm is None else {"style": self.arms[arm].eval_style}
        return {**self.config["generation"], **style}, "generation"

    def _stability_mapping(self) -> tuple[dict[str, Any], str]:
        generation, section = self.config["generation"], self._section("stability")
        decoding = {**generation.get("decoding", {}), **section.get("decoding", {})}
        mapping = {**section.get("settings", {}), "generation": {**generation, "decoding": decoding}}
        return mapping, "stability (over generation)"

    def _loglik_mapping(self) -> tuple[dict[str, Any], str]:
        return {**self._section("loglik", "settings"), "seed": self.config["seed"]}, "loglik.settings"

    def _lm_eval_mapping(self) -> tuple[dict[str, Any], str]:
        section = self._section("lm_eval")
        mapping = {
            **section.get("settings", {}),
            "tasks": section.get("tasks", []),
            "include_path": section.get("include_path"),
            "seed": self.config["seed"],
            **self._scoring("confidence"),
        }
        return mapping, "lm_eval"

    def _score_mapping(self) -> tuple[dict[str, Any], str]:
        return {"seed": self.config["seed"], **self._scoring("bootstrap_samples", "confidence")}, "scoring"

    def _summary_mapping(self) -> tuple[dict[str, Any], str]:
        models = {
            name: {k: model[k] for k in ("family", "variant", "size") if k in model}
            for name, model in self.config["models"].items()
        }
        return {"seed": self.config["seed"], **self._section("scoring"), "models": models}, "scoring"

    def _report_mapping(self) -> tuple[dict[str, Any], str]:
        groups = self._section("loglik", "groups")
        mapping = {
            "seed": self.config["seed"],
            **self._scoring("bootstrap_samples", "confidence"),
            **({"loglik_groups": groups} if groups else {}),
        }
        return mapping, "report (from scoring, loglik.groups)"

    def _corpus_clean_mapping(self) -> tuple[dict[str, Any], str]:
        return self._section("corpus", "cleaning"), "corpus.cleaning"

    def _corpus_build_mapping(self, corpus: str | None) -> tuple[dict[str, Any], str]:
        if corpus not in self.config["corpus"]["corpora"]:
            raise ValueError(f"stage corpus_build: unknown corpus {corpus!r}")
        spec = {k: v for k, v in self.config["corpus"]["corpora"][corpus].items() if k != "sources"}
        return {"seed": self.config["seed"], **spec}, f"corpus.corpora.{key_path([corpus])}"

    def _corpus_blocks_mapping(self) -> tuple[dict[str, Any], str]:
        return {"seed": self.config["seed"], **self._section("corpus", "blocks")}, "corpus.blocks"

    def _preferences_mapping(self) -> tuple[dict[str, Any], str]:
        section = self._section("training", "preferences")
        section.pop("datasets", None)  # the job's inputs
        return {"seed": self.config["seed"], **section}, "training.preferences"

    def _extract_mapping(self) -> tuple[dict[str, Any], str]:
        return {"seed": self.config["seed"], **self._section("splits")}, "splits"

    def _mix_mapping(self, mix: str | None) -> tuple[dict[str, Any], str]:
        if mix not in self._section("mixes"):
            raise ValueError(f"stage mix: unknown mix {mix!r}")
        mapping = {"seed": self.config["seed"], **self._section("mixes", mix, "settings")}
        return mapping, f"mixes.{key_path([mix])}.settings"

    def _traces_mapping(self, traces: str | None) -> tuple[dict[str, Any], str]:
        if traces not in self._section("traces"):
            raise ValueError(f"stage traces: unknown traces {traces!r}")
        return self._section("traces", traces), f"traces.{key_path([traces])}"


def load_grid(config: dict[str, Any], base_dir: str | Path | None = None, workdir: str | Path = ".") -> Grid:
    """The grid of a config, the whole config checked first (schema, stage settings, cross-references:
    see pipeline.dag.config_check); relative paths resolve by `pipeline.paths` (fetched data: `workdir`)."""
    from pipeline.dag.config_check import check_grid, check_schema
    from pipeline.io import load_yaml
    from pipeline.paths import resolve

    check_schema(config)
    path = resolve(config["registry"], base_dir)
    if not path.exists():
        raise ValueError(f"config key registry: no dataset registry at {path}")
    registry = load_yaml(path.read_text(encoding="utf-8")) or {}
    if not isinstance(registry, dict) or "datasets" not in registry:
        raise ValueError(f"{path}: a dataset registry needs a top-level 'datasets' mapping")
    origin = f"dataset registry {path}"
    grid = Grid(config, registry["datasets"], registry.get("sources"), workdir, registry_origin=origin)
    check_grid(grid)
    return grid
