"""Every malformed config is rejected before any job, naming its key (pipeline.dag.config_check).

The table derives each case from the demo config by one mutation and checks it through
`load_grid`, the function the Snakefile calls at DAG time; a few cases run `snakemake -n` to
prove the wiring.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from pipeline.dag.config_check import ConfigError
from pipeline.dag.grid import deep_merge, load_grid
from pipeline.schema_errors import key_path

DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def set_key(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation setting the dotted `path` (created as needed) to `value`."""

    def edit(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return edit


def drop_key(path: str) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        *parents, last = path.split(".")
        node = config
        for part in parents:
            node = node[part]
        del node[last]

    return edit


def both(*edits: Callable[[dict], None]) -> Callable[[dict], None]:
    def edit(config: dict) -> None:
        for one in edits:
            one(config)

    return edit


STABILITY = {"datasets": ["demo-mcq"], "arms": ["base"], "settings": {"k_shot": 1}}
RPO_ARM = {"method": "rpo", "parent": "cpt"}

# (id, mutation, text the error must contain: the key path)
CASES: list[tuple[str, Callable[[dict], None], str]] = [
    # unknown keys, in every section
    ("top-level", set_key("seeds", 1), "config key seeds: unknown key"),
    ("splits", set_key("splits.max_tests", 3), "splits.max_tests"),
    ("demo", set_key("demo.langs", ["en"]), "demo.langs"),
    ("model", set_key("models.llama-base.sizee", "1B"), "models.llama-base.sizee"),
    ("tiny-architecture", set_key("tiny_architecture.hidden", 8), "tiny_architecture.hidden"),
    ("traces", set_key("traces.demo-traces.format", "csv"), "traces.demo-traces.format"),
    ("corpus-source", set_key("corpus.sources.demo-en.lang", "en"), "corpus.sources.demo-en.lang"),
    ("corpus-cleaning", set_key("corpus.cleaning.min_word", 3), "corpus.cleaning.min_word"),
    ("corpus-corpora", set_key("corpus.corpora.joint.licence", "all"), "corpus.corpora.joint.licence"),
    (
        "corpus-dedup",
        set_key("corpus.corpora.joint.dedup", {"near_threshold": 0.5}),
        "joint.dedup.near_threshold",
    ),
    ("corpus-blocks", set_key("corpus.blocks.blocksize", 64), "corpus.blocks.blocksize"),
    ("mix", set_key("mixes.it.setting", {}), "mixes.it.setting"),
    ("it-mix-settings", set_key("mixes.it.settings.max_examples", 5), "mixes.it.settings.max_examples"),
    (
        "rot-mix-settings",
        set_key("mixes.rot.settings.max_examples_per_cell", 5),
        "mixes.rot.settings.max_examples_per_cell",
    ),
    ("arm", set_key("arms.it.lr", 1e-3), "arms.it.lr"),
    (
        "sft-arm-settings",
        set_key("arms.it.settings", {"lr_schedule": "linear"}),
        "arms.it.settings.lr_schedule",
    ),
    ("cpt-arm-settings", set_key("arms.cpt.settings", {"lora": {"r": 4}}), "arms.cpt.settings.lora"),
    ("merge-arm-settings", set_key("arms.cpt-slerp.settings.alpha", 0.5), "arms.cpt-slerp.settings.alpha"),
    ("slerp-weight", set_key("arms.cpt-slerp.settings.weight", 0.5), "arms.cpt-slerp.settings"),
    ("training-cpt", set_key("training.cpt.learning_rate", 1e-4), "training.cpt.learning_rate"),
    ("training-sft", set_key("training.sft.learning_rate", 1e-4), "training.sft.learning_rate"),
    ("training-sft-lora", set_key("training.sft.lora.rank", 8), "training.sft.lora.rank"),
    (
        "training-sft-sizes",
        set_key("training.sft.sizes", {"large": {"lrr": 1}}),
        "training.sft.sizes.large.lrr",
    ),
    ("training-rpo", set_key("training.rpo", {"alphas": 1.0}), "training.rpo.alphas"),
    ("training-preferences", set_key("training.preferences", {"kshot": 3}), "training.preferences.kshot"),
    ("training-section", set_key("training.merge", {"t": 0.5}), "training.merge"),
    ("generation", set_key("generation.beam_width", 4), "generation.beam_width"),
    ("decoding", set_key("generation.decoding.top_k", 5), "generation.decoding.top_k"),
    ("loglik-settings", set_key("loglik.settings.shots", 1), "loglik.settings.shots"),
    ("loglik-groups", set_key("loglik.groups.other", ["x"]), "loglik.groups.other"),
    (
        "stability-settings",
        set_key("stability", {**STABILITY, "settings": {"kshot": 1}}),
        "stability.settings.kshot",
    ),
    ("scoring", set_key("scoring.reference", "base"), "scoring.reference"),
    ("resources", set_key("resources.default.gpus", 1), "resources.default.gpus"),
    ("cluster", set_key("cluster.queue", "gpu"), "cluster.queue"),
    # wrong types
    ("seed-string", set_key("seed", "13"), "config key seed:"),
    ("cpt-lr-string", set_key("training.cpt.lr", "fast"), "training.cpt.lr"),
    ("sft-lr-string", set_key("training.sft.lr", "fast"), "training.sft.lr"),
    ("arm-lr-string", set_key("arms.it.settings", {"lr": "fast"}), "arms.it.settings.lr"),
    ("sft-max-steps-float", set_key("training.sft.max_steps", 1.5), "training.sft.max_steps"),
    ("keep-checkpoints", set_key("training.cpt.keep_checkpoints", "some"), "training.cpt.keep_checkpoints"),
    ("merge-adapter", set_key("training.sft.merge_adapter", "yes"), "training.sft.merge_adapter"),
    ("batch-size-string", set_key("generation.batch_size", "128"), "generation.batch_size"),
    ("evaluate-datasets-string", set_key("evaluate_datasets", "demo-ner"), "evaluate_datasets"),
    ("family", set_key("models.llama-base.family", "mistral"), "models.llama-base.family"),
    ("method", set_key("arms.it.method", "lora"), "arms.it.method"),
    ("block-size-string", set_key("corpus.blocks.block_size", "128"), "corpus.blocks.block_size"),
    ("mix-languages-string", set_key("mixes.it.settings.languages", "en"), "mixes.it.settings.languages"),
    ("loglik-datasets-string", set_key("loglik.datasets", "demo-mcq"), "loglik.datasets"),
    ("slerp-t-string", set_key("arms.cpt-slerp.settings.t", "half"), "arms.cpt-slerp.settings"),
    (
        "source-language",
        set_key("corpus.sources.demo-en.language", "english"),
        "corpus.sources.demo-en.language",
    ),
    # values out of range
    ("slerp-t-high", set_key("arms.cpt-slerp.settings.t", 1.5), "arms.cpt-slerp.settings"),
    ("slerp-t-negative", set_key("arms.cpt-slerp.settings.t", -0.2), "arms.cpt-slerp.settings"),
    ("slerp-t-gradient", set_key("arms.cpt-slerp.settings.t", [0.0, 1.2]), "arms.cpt-slerp.settings"),
    ("cpt-lr-zero", set_key("training.cpt.lr", 0), "training.cpt.lr"),
    ("sft-lr-negative", set_key("training.sft.lr", -1.0), "training.sft.lr"),
    ("warmup-ratio", set_key("training.cpt.warmup_ratio", 1.0), "training.cpt.warmup_ratio"),
    ("effective-batch", set_key("training.cpt.effective_batch_size", 0), "training.cpt.effective_batch_size"),
    ("zero-stage", set_key("training.cpt.zero_stage", 1), "training.cpt.zero_stage"),
    ("lora-dropout", set_key("training.sft.lora.dropout", 1.0), "training.sft.lora.dropout"),
    ("rpo-beta", set_key("training.rpo", {"beta": 0}), "training.rpo.beta"),
    ("top-p", set_key("generation.decoding.top_p", 1.5), "generation.decoding.top_p"),
    ("temperature", set_key("generation.decoding.temperature", -1), "generation.decoding.temperature"),
    ("confidence", set_key("scoring.confidence", 1.0), "scoring.confidence"),
    ("bootstrap", set_key("scoring.bootstrap_samples", 1), "scoring.bootstrap_samples"),
    (
        "validation-fraction",
        set_key("corpus.blocks.validation_fraction", 1.0),
        "corpus.blocks.validation_fraction",
    ),
    ("dedup-threshold", set_key("corpus.corpora.joint.dedup", {"threshold": 0}), "joint.dedup.threshold"),
    ("demo-documents", set_key("demo.documents_per_language", 1), "demo.documents_per_language"),
    ("max-test", set_key("generation.max_test_per_cell", 0), "generation.max_test_per_cell"),
    # rules between keys, on the arm's effective settings
    ("cpt-steps-and-epochs", set_key("arms.cpt.settings", {"epochs": 1}), "arms.cpt.settings"),
    (
        "cpt-two-warmups",
        both(set_key("training.cpt.warmup_ratio", 0.1), set_key("arms.cpt.settings", {"warmup_steps": 5})),
        "arms.cpt.settings",
    ),
    (
        "checkpoint-step-not-kept",
        set_key("arms.cpt@10", {"method": "checkpoint", "parent": "cpt", "step": 10}),
        "arms.cpt@10.step",
    ),
    # names
    (
        "model-name",
        lambda c: c["models"].update({"my model;id": c["models"]["llama-base"]}),
        "models.'my model;id'",
    ),
    (
        "arm-name",
        lambda c: c["arms"].update({"a b": {"method": "sft", "parent": "base", "mix": "it"}}),
        "arms.'a b'",
    ),
    ("parent-name", set_key("arms.it.parent", "$(id)"), "arms.it.parent"),
    # references to nothing
    ("reference-arm", set_key("scoring.reference_arm", "nobody"), "scoring.reference_arm"),
    ("loglik-subject", set_key("loglik.groups.medical", ["demo_mcqq"]), "loglik.groups.medical"),
    (
        "loglik-groups-both-null",
        set_key("loglik.groups", {"medical": None, "general": None}),
        "loglik.groups: at most one of medical, general may be null",
    ),
    ("evaluate-dataset", set_key("evaluate_datasets", ["demo-nerr"]), "evaluate_datasets"),
    ("arm-mix", set_key("arms.it.mix", "nope"), "arms.it.mix"),
    ("arm-corpus", set_key("arms.cpt.corpus", "nope"), "arms.cpt.corpus"),
    ("arm-parent", set_key("arms.it.parent", "nope"), "arms.it.parent"),
    ("arm-cycle", set_key("arms.it.parent", "it"), "arms.it"),
    ("mix-traces", set_key("mixes.rot.traces", ["nope"]), "mixes.rot.traces"),
    ("it-mix-traces", set_key("mixes.it.traces", ["demo-traces"]), "mixes.it.traces"),
    ("corpus-sources", set_key("corpus.corpora.joint.sources", ["demo-fr"]), "corpus.corpora.joint.sources"),
    ("loglik-arms", set_key("loglik.arms", ["nope"]), "loglik.arms"),
    ("loglik-datasets", set_key("loglik.datasets", ["nope"]), "loglik.datasets"),
    ("loglik-not-qa", set_key("loglik.datasets", ["demo-ner"]), "loglik.datasets"),
    ("stability-datasets", set_key("stability", {**STABILITY, "datasets": ["nope"]}), "stability.datasets"),
    (
        "preferences-datasets",
        set_key("training.preferences", {"datasets": ["nope"]}),
        "training.preferences.datasets",
    ),
    ("arm-key-of-another-method", set_key("arms.it.corpus", "joint"), "arms.it.corpus"),
    ("merge-without-settings", drop_key("arms.cpt-slerp.settings"), "arms.cpt-slerp"),
    ("cpt-without-corpus", drop_key("arms.cpt.corpus"), "arms.cpt"),
    ("base-trained", set_key("arms.base.method", "sft"), "arms.base"),
    (
        "rpo-arm-settings",
        set_key("arms.rpo", {**RPO_ARM, "settings": {"loss": "ipo"}}),
        "arms.rpo.settings.loss",
    ),
    (
        "rpo-qlora-without-lora",
        both(
            set_key("training.rpo", {"sizes": {"tiny": {"quantization": "nf4"}}}),
            set_key("arms.rpo", {**RPO_ARM, "settings": {"lora": None}}),
        ),
        "arms.rpo.settings.quantization (over training.rpo): QLoRA trains a LoRA adapter",
    ),
    # every stage's settings: a typo'd key of the sections not above
    (
        "stability-decoding",
        set_key("stability", {**STABILITY, "decoding": {"top_k": 5}}),
        "stability.decoding.top_k",
    ),
    ("lm-eval", set_key("lm_eval", {"tasks": ["medmcqa"], "task": ["x"]}), "lm_eval.task"),
    (
        "lm-eval-settings",
        set_key("lm_eval", {"tasks": ["medmcqa"], "settings": {"shots": 1}}),
        "lm_eval.settings.shots",
    ),
    (
        "corpus-decontamination",
        set_key("corpus.corpora.joint.decontamination", {"n": 13}),
        "joint.decontamination.n",
    ),
    ("sft-filter", set_key("training.sft.filter", {"datasets": ["x"]}), "training.sft.filter.datasets"),
    (
        "rpo-lora",
        set_key("arms.rpo", {**RPO_ARM, "settings": {"lora": {"rank": 4}}}),
        "arms.rpo.settings.lora.rank",
    ),
    # values only a stage's settings dataclass knows to be wrong (the schema lets them through)
    (
        "blocks-stride-over-block-size",
        set_key("corpus.blocks.stride", 4096),
        "corpus.blocks.stride: must be at most block_size 128",
    ),
    (
        "licence-class",
        set_key("corpus.corpora.joint.licence_classes", {"CC-BY-SA": "free"}),
        "corpus.corpora.joint.licence_classes.CC-BY-SA: must be one of",
    ),
    (
        "rpo-max-length",
        both(set_key("training.rpo", {"max_length": 1}), set_key("arms.rpo", RPO_ARM)),
        "arms.rpo.settings.max_length (over training.rpo): must be at least 2",
    ),
    (
        "traces-empty-column",
        set_key("traces.demo-traces.fields", {"question": ""}),
        "traces.demo-traces.fields.question: must be a column name",
    ),
    (
        "cpt-required-checkpoint-negative-warmup",
        set_key("arms.cpt.settings", {"warmup_ratio": 0.1, "warmup_steps": 2}),
        "arms.cpt.settings.warmup_ratio (over training.cpt): and warmup_steps are exclusive",
    ),
]


def mutated(edit: Callable[[dict], None]) -> dict:
    config = copy.deepcopy(DEMO)
    edit(config)
    return config


@pytest.mark.parametrize(("edit", "named"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_config_is_rejected_naming_its_key(edit, named):
    with pytest.raises(ValueError) as caught:
        load_grid(mutated(edit), REPO)
    assert named in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"format": "csv"}, "config key traces.demo-traces: unknown key(s) ['format']"),
        ({"reader": "huatuo"}, "config key traces.demo-traces.reader: must be one of"),
    ],
    ids=["typo", "unknown-reader"],
)
def test_a_traces_entry_is_checked_by_its_settings_not_only_the_schema(monkeypatch, entry, named):
    """Each `traces` entry is its stage's settings object (TracesSettings), resolved at DAG time:
    with the schema out of the way, the grid's own check still names the entry's config path."""
    monkeypatch.setattr("pipeline.dag.config_check.check_schema", lambda config: None)
    config = mutated(set_key("traces.demo-traces", {**DEMO["traces"]["demo-traces"], **entry}))
    with pytest.raises(ConfigError) as caught:
        load_grid(config, REPO)
    assert named in str(caught.value), str(caught.value)


def test_the_table_covers_the_issue():
    assert len(CASES) >= 65 and len({c[0] for c in CASES}) == len(CASES)


def grid_of(preset: Path) -> str:
    """The config a preset layers over: the demo's twin over the demo, a study's slice over that
    study, any other over the thesis."""
    if preset.stem == "thesis-twin":
        return "config.yaml"
    study = preset.stem.removesuffix("-slice")
    return f"studies/{study}.yaml" if study != preset.stem else "thesis.yaml"


@pytest.mark.parametrize(
    "files",
    [
        ["config.yaml"],
        ["thesis.yaml"],
        *[[f"studies/{p.name}"] for p in sorted((REPO / "config" / "studies").glob("*.yaml"))],
        *[[grid_of(p), f"presets/{p.name}"] for p in sorted((REPO / "config" / "presets").glob("*.yaml"))],
    ],
)
def test_shipped_configs_pass(files):
    config: dict = {}
    for name in files:
        config = deep_merge(config, yaml.safe_load((REPO / "config" / name).read_text()))
    load_grid(config, REPO)


def test_every_error_is_reported_at_once():
    config = mutated(both(set_key("seed", "x"), set_key("generation.beam_width", 1)))
    with pytest.raises(ConfigError, match=r"(?s)generation\.beam_width: unknown key.*seed:"):
        load_grid(config, REPO)


def test_key_paths_quote_what_is_not_a_plain_name():
    assert key_path(["arms", "pdapt@step-1440", "settings", "t"]) == "arms.pdapt@step-1440.settings.t"
    assert key_path(["models", "my model;id"]) == "models.'my model;id'"
    assert key_path(["loglik", "datasets", 0]) == "loglik.datasets[0]"


def test_dag_time_check_imports_no_torch():
    code = (
        "import sys, yaml; from pipeline.dag.grid import load_grid; "
        f"load_grid(yaml.safe_load(open({str(REPO / 'config/thesis.yaml')!r})), {str(REPO)!r}); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())


def section(*path: str) -> dict[str, Any]:
    """The schema of a config section (`properties` followed, `$ref`s of `$defs` merged in)."""
    node: dict[str, Any] = SCHEMA
    for part in path:
        node = resolved(node)["properties"][part]
    return resolved(node)


def resolved(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    target = resolved(SCHEMA["$defs"][ref.rsplit("/", 1)[1]])
    return {**target, **node, "properties": {**target.get("properties", {}), **node.get("properties", {})}}


def schema_keys(*path: str) -> set[str]:
    return set(section(*path)["properties"])


def def_keys(name: str) -> set[str]:
    return set(resolved(SCHEMA["$defs"][name])["properties"])


def test_stage_settings_schema_lists_every_key_the_stages_know():
    """The schema and the stages' settings dataclasses cannot drift apart: every key a stage knows is
    in the config's section it comes from, beside what the grid adds (the seed, the arm's style...)."""
    from pipeline.corpus.settings import (
        BlocksSettings,
        BuildSettings,
        CleanSettings,
        DecontaminationSettings,
        DedupSettings,
    )
    from pipeline.evaluate.settings import (
        Decoding,
        GenerationSettings,
        LmEvalSettings,
        LoglikSettings,
        ModelColumns,
        ScoreSettings,
        StabilitySettings,
        SummarySettings,
    )
    from pipeline.merge.methods import METHODS
    from pipeline.merge.settings import COMMON_KEYS
    from pipeline.report.settings import LoglikGroups
    from pipeline.tasks.settings import (
        TRACE_COLUMNS,
        ExtractSettings,
        ITSettings,
        RoTSettings,
        TracesSettings,
    )
    from pipeline.train.cpt_settings import CptSettings
    from pipeline.train.settings import LoraSettings, PreferenceSettings, RpoSettings, SftFilter, SftSettings

    # `required_checkpoints` is the workflow's to set (the checkpoint arms' steps), not the user's;
    # `cpu_processes` is the launcher's.
    assert def_keys("cpt") == CptSettings.keys() - {"required_checkpoints"} | {"cpu_processes"}
    assert def_keys("sft") == SftSettings.keys() and def_keys("rpo") == RpoSettings.keys()
    assert def_keys("lora") == LoraSettings.keys()
    assert set(resolved(SCHEMA["$defs"]["sft"])["properties"]["filter"]["properties"]) == SftFilter.keys()
    assert def_keys("merge_settings") == COMMON_KEYS | {k for m in METHODS.values() for k in m.keys}
    assert schema_keys("training", "preferences") == PreferenceSettings.keys() | {"datasets"}
    assert schema_keys("generation") == GenerationSettings.keys() - {"style"}  # style: the arm's
    assert schema_keys("generation", "decoding") == Decoding.keys() == schema_keys("stability", "decoding")
    assert schema_keys("stability", "settings") == StabilitySettings.keys() - {"generation"}
    assert schema_keys("loglik", "settings") == LoglikSettings.keys() - {"seed"}
    assert schema_keys("loglik", "groups") == LoglikGroups.keys()
    grid_keys = {"tasks", "include_path", "seed", "confidence"}
    assert schema_keys("lm_eval", "settings") == LmEvalSettings.keys() - grid_keys
    summary_keys = SummarySettings.keys() - {"seed", "models"}  # models: from the config's models
    assert schema_keys("scoring") == summary_keys > ScoreSettings.keys() - {"seed"}
    assert set(section("models")["additionalProperties"]["properties"]) >= ModelColumns.keys()
    assert schema_keys("splits") == ExtractSettings.keys() - {"seed"}
    assert schema_keys("corpus", "cleaning") == CleanSettings.keys()
    assert schema_keys("corpus", "blocks") == BlocksSettings.keys() - {"seed"}
    corpora = section("corpus", "corpora")["additionalProperties"]["properties"]
    assert set(corpora) == BuildSettings.keys() - {"seed"} | {"sources"}
    assert set(corpora["dedup"]["properties"]) == DedupSettings.keys()
    assert set(corpora["decontamination"]["properties"]) == DecontaminationSettings.keys()
    it, rot = (
        set(resolved(branch["then"]["properties"]["settings"])["properties"])
        for branch in section("mixes")["additionalProperties"]["allOf"]
    )
    assert it == ITSettings.keys() and rot == RoTSettings.keys()
    traces = section("traces")["additionalProperties"]["properties"]
    assert set(traces) == TracesSettings.keys()
    assert set(traces["fields"]["properties"]) == set(TRACE_COLUMNS)


def test_stage_settings_enums_are_the_schemas_and_the_codes():
    """Values the dataclasses spell out (to stay torch-free) equal the schema's and the code's."""
    import typing

    from pipeline.evaluate.loglik import TEMPLATES
    from pipeline.evaluate.settings import CorrectionColumn, LoglikSettings, SummarySettings
    from pipeline.evaluate.stats import CORRECTIONS
    from pipeline.examples import TASKS
    from pipeline.summary import COLUMNS
    from pipeline.tasks import settings as task_settings
    from pipeline.tasks.readers.reasoning import FIELDS
    from pipeline.train import settings as train_settings

    def literal(cls: type, name: str) -> set[Any]:
        return set(typing.get_args(typing.get_type_hints(cls)[name]))

    assert (
        literal(LoglikSettings, "template")
        == set(TEMPLATES)
        == set(section("loglik", "settings")["properties"]["template"]["enum"])
    )
    assert literal(SummarySettings, "correction") == set(CORRECTIONS)
    correction_by = set(section("scoring")["properties"]["correction_by"]["items"]["enum"])
    assert set(typing.get_args(CorrectionColumn)) == correction_by and correction_by <= set(COLUMNS)
    assert set(typing.get_args(task_settings.Task)) == set(typing.get_args(train_settings.Task)) == set(TASKS)
    readers = section("traces")["additionalProperties"]["properties"]["reader"]["enum"]
    assert set(typing.get_args(task_settings.TraceReader)) == set(FIELDS) == set(readers)


def test_cpt_schedulers_are_transformers_schedulers():
    from transformers import SchedulerType

    from pipeline.train.cpt_settings import SCHEDULERS

    defs = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["$defs"]
    assert set(SCHEDULERS) == {s.value for s in SchedulerType} == set(defs["scheduler"]["enum"])


@pytest.mark.parametrize(
    "case",
    [
        "slerp-t-high",
        "reference-arm",
        "loglik-subject",
        "cpt-lr-string",
        "evaluate-dataset",
        "training-sft",
        "blocks-stride-over-block-size",
    ],
)
def test_dry_run_rejects_before_any_job(tmp_path, case):
    _, edit, named = next(c for c in CASES if c[0] == case)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(mutated(edit)))
    result = dry_run(tmp_path, path)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and named in out and "Job stats" not in out, out


def dry_run(workdir: Path, configfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            SNAKEMAKE,
            "--snakefile",
            str(REPO / "Snakefile"),
            "-n",
            "-d",
            str(workdir),
            "--configfile",
            str(configfile),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_resources_name_rules_of_the_workflow(tmp_path):
    """A typo in a rule name under `resources` would silently leave that rule with the defaults."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(mutated(set_key("resources.rules", {"cpt_": {"mem_mb": 64000}}))))
    result = dry_run(tmp_path, path)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "config key resources.rules: unknown rule 'cpt_'" in out, out
