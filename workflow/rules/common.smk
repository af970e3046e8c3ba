import os
import re

from snakemake.settings.types import DeploymentMethod

from pipeline.dag.code_digest import code_digest, files_digest
from pipeline.dag.config_check import check_resource_rules
from pipeline.dag.grid import load_grid
from pipeline.dag.job_environment import prepare_job_environment
from pipeline.dag.resources import RuleResources
from pipeline.io import canonical_json
from pipeline.paths import is_produced, resolve
from pipeline.provenance import config_hash

GRID = load_grid(config, base_dir=workflow.basedir, workdir=Path.cwd())
RESOURCES = RuleResources(config)
prepare_job_environment(
    Path(workflow.basedir) / "src",
    DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method,
)


def one_of(names):
    return "|".join(map(re.escape, names)) or "^$"


wildcard_constraints:
    model=one_of(GRID.models),
    arm=one_of(GRID.arms),
    dataset=one_of(GRID.registry),
    source=one_of(config["corpus"]["sources"]),
    corpus=one_of(config["corpus"]["corpora"]),
    mix=one_of(config.get("mixes", {})),
    traces=one_of(config.get("traces", {})),
    data_source=one_of(GRID.fetched_sources),


def code(*entries):
    """The digest of what a rule's `python -m` modules import (`pipeline.dag.code_digest`): a parameter,
    so that editing a module reruns exactly the rules that run it and a moved checkout reruns none.
    """
    return code_digest(*entries)


def data_inputs(path):
    """A config or registry data path as job inputs: the demo folder for demo data; for data beside
    the checkout, its files (a folder's mtime misses an edited file; `pipeline.paths` resolves them
    for the jobs), so that an edit reruns its dataset and a missing path stops the dry run; fetched
    data (`data/...`) comes in through the fetch targets instead.
    """
    paths = path.values() if isinstance(path, dict) else [path]
    inputs = set()
    for p in map(str, paths):
        if p.startswith("results/demo"):
            inputs.add("results/demo")
        elif not is_produced(p):
            inputs.update(data_files(os.path.relpath(resolve(p, workflow.basedir))))
    return sorted(inputs)


def data_files(path):
    """A data file, or every file under a data folder (hidden ones aside)."""
    if not os.path.isdir(path):
        return [path]
    return [
        os.path.join(root, name)
        for root, dirs, names in os.walk(path)
        for name in names
        if not name.startswith(".")
    ]


def model_dir(model, arm):
    return f"results/models/{model}/{arm}"


def parent_dir(wildcards):
    return model_dir(wildcards.model, GRID.arms[wildcards.arm].parent)


TRAINING_DATA_CHECKPOINTS = {"mix": "build_mix", "corpus": "build_corpus"}
# The file of each checkpoint (its first output) that says a mix or corpus was built.
TRAINING_DATA_FILES = {
    "mix": "results/mixes/{mix}.jsonl",
    "corpus": "results/corpus/{corpus}.parquet",
}


def tie_to_training_data(wildcards):
    """No files: ties a job of a trained arm to the checkpoints that built its lineage's mixes and
    corpora. Snakemake re-evaluates a checkpoint's dependants once it has run, so a mix or corpus
    rebuilt with the same bytes (a test-set edit that removes nothing new) reruns neither the
    training nor anything downstream of it, in the same `snakemake` call (a job planned before the
    checkpoint ran and not tied to it would keep its stale reason to run). Only what was built
    before this call is tied: a first build runs its dependants anyway, and a tie costs DAG time.
    """
    data = (
        GRID.training_data(wildcards.arm)
        if "arm" in wildcards.keys()
        else ALL_TRAINING_DATA
    )
    for kind, name in data:
        if (kind, name) in TIES_PENDING:
            # raises until the checkpoint has run; once it returns, it returns for good
            getattr(checkpoints, TRAINING_DATA_CHECKPOINTS[kind]).get(**{kind: name})
            TIES_PENDING.discard((kind, name))
    return []


ALL_TRAINING_DATA = sorted({d for arm in GRID.arms for d in GRID.training_data(arm)})


# The mixes and corpora built before this call (read as the workflow is parsed, before any job
# runs), whose checkpoint has not yet been seen complete.
TIES_PENDING = {
    (kind, name)
    for kind, name in ALL_TRAINING_DATA
    if os.path.exists(TRAINING_DATA_FILES[kind].format(**{kind: name}))
}


# The `trained` input of every job of a trained arm: with nothing built yet (a first run, a fresh
# dry run), no input function for Snakemake to call on each job.
trained_on = tie_to_training_data if TIES_PENDING else []


def training_data_input(kind, output):
    """Input function of the job that trains on (or tokenises) a mix or corpus (`kind`), whose
    `output` pattern is given: the file the checkpoint writes. Where the job's output exists, through
    the checkpoint: Snakemake re-evaluates the job once the checkpoint has run, so a mix or corpus
    rebuilt with the same bytes reruns nothing. A job without its output runs anyway and takes the
    file as a plain input, sparing Snakemake a second pass over the whole DAG for the checkpoint's
    pending inputs (every first run and fresh dry run).
    """

    def data_file(wildcards):
        job = dict(wildcards.items())
        name = job[kind] if kind in job else GRID.arms[job["arm"]].spec[kind]
        if os.path.exists(output.format(**job)):
            builder = getattr(checkpoints, TRAINING_DATA_CHECKPOINTS[kind])
            return builder.get(**{kind: name}).output[kind]
        return TRAINING_DATA_FILES[kind].format(**{kind: name})

    return data_file


def arm_regex(method):
    return one_of(GRID.arms_with(method))


def task_files(datasets=None):
    """Example files of `datasets` (default: every dataset of the registry)."""
    names = GRID.registry if datasets is None else datasets
    return [f"results/tasks/{d}.jsonl" for d in names]


def shape(rule, wildcards):
    """The compute a job of `rule` asks for, by the size class of its model."""
    return RESOURCES.job_shape(rule, wildcards)


def job_resources(rule):
    """Snakemake resources of `rule` (SLURM request included), from the config's `resources`:
    plain values where every model size agrees (nothing evaluated per job)."""
    return RESOURCES.resources(rule)


def job_threads(rule):
    """A job's threads (and so OMP_NUM_THREADS): the cpus_per_task of its resources."""
    return RESOURCES.threads(rule)


def source_spec(name):
    return {"name": name, **config["corpus"]["sources"][name]}


def corpus_spec(name):
    return config["corpus"]["corpora"][name]


def by_dataset(cells):
    """Cell names (dataset/language/sub-task) by dataset: one evaluation job per dataset."""
    names = {}
    for cell in cells:
        names.setdefault(cell[0], []).append("/".join(cell))
    return names


CELLS_OF = by_dataset(GRID.cells())


LOGLIK_CELLS_OF = by_dataset(GRID.loglik_cells())


def all_cell_files(folder, arms, cells_of, suffix):
    """Every per-cell file under `results/{folder}` of `arms` (for the summary and the report)."""
    return [
        f"results/{folder}/{model}/{arm}/{cell}{suffix}"
        for model in GRID.models
        for arm in arms
        for cells in cells_of.values()
        for cell in cells
    ]


GENERATION_ENV = (
    "../envs/vllm.yaml"
    if config["generation"]["backend"] == "vllm"
    else "../envs/training.yaml"
)


STABILITY_CELLS_OF = by_dataset(GRID.stability_cells())


STABILITY_STYLES = ["qa_answer_only", "qa_explain"]


def stability_files(folder, model, arm, dataset, suffix):
    """The per-style, per-cell files of one model × arm × stability dataset under `results/{folder}`."""
    return [
        f"results/{folder}/{model}/{arm}/{style}/{cell}{suffix}"
        for style in STABILITY_STYLES
        for cell in STABILITY_CELLS_OF[dataset]
    ]


def stability_dirs(folder, model="{model}", arm="{arm}", dataset="{dataset}"):
    """The folder of each style of one model × arm × stability dataset under `results/{folder}`:
    a job's outputs (its dataset's cells are not a pattern of its wildcards)."""
    return [
        f"results/{folder}/{model}/{arm}/{style}/{dataset}"
        for style in STABILITY_STYLES
    ]


def lm_eval_task_files():
    """The task YAMLs (and data beside them) under `lm_eval.include_path`: inputs of the lm_eval jobs."""
    folder = (config.get("lm_eval") or {}).get("include_path")
    if not folder:
        return []
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(
            f"lm_eval.include_path: {folder} is not a folder of task YAMLs"
        )
    return sorted(
        str(p) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )


PREFERENCES = config.get("training", {}).get("preferences") or {}


def summary_scores(wildcards):
    """The score folders and files of every evaluation, by evaluation."""
    return {
        "scores": expand(
            "results/scores/{model}/{arm}/{dataset}",
            model=GRID.models,
            arm=GRID.arms,
            dataset=CELLS_OF,
        ),
        "loglik_scores": expand(
            "results/loglik/{model}/{arm}/{dataset}",
            model=GRID.models,
            arm=GRID.loglik_arms,
            dataset=LOGLIK_CELLS_OF,
        ),
        "stability_scores": [
            folder
            for model in GRID.models
            for arm in GRID.stability_arms
            for dataset in STABILITY_CELLS_OF
            for folder in stability_dirs("stability", model, arm, dataset)
        ],
        "lm_eval_scores": expand(
            "results/lm_eval/{model}/{arm}/scores.json",
            model=GRID.models,
            arm=GRID.lm_eval_arms,
        ),
    }


SCORE_FILES = all_cell_files("scores", GRID.arms, CELLS_OF, ".json")


LOGLIK_SCORE_FILES = all_cell_files(
    "loglik", GRID.loglik_arms, LOGLIK_CELLS_OF, ".json"
)


STABILITY_SCORE_FILES = [
    path
    for model in GRID.models
    for arm in GRID.stability_arms
    for dataset in STABILITY_CELLS_OF
    for path in stability_files("stability", model, arm, dataset, ".json")
]


MODEL_SOURCES = GRID.model_sources


def base_source(wildcards):
    """A model's `source` as one shell word (a mapping as JSON)."""
    raw = config["models"][wildcards.model]["source"]
    return raw if isinstance(raw, str) else canonical_json(raw)


def base_inputs(wildcards):
    """The demo text a tiny model's tokenizer learns, or a local source's files."""
    source = MODEL_SOURCES[wildcards.model]
    if source.kind == "tiny":
        return ["results/demo"]
    return [os.path.relpath(source.local_path)] if source.local_path else []


def trained_arms():
    return [a for a in GRID.arms if GRID.arms[a].method in ("cpt", "sft", "rpo")]


def report_inputs(wildcards):
    """Everything the report reads besides the summary and the evaluation jobs' own records."""
    cpt_corpora = {GRID.arms[a].spec["corpus"] for a in GRID.arms_with("cpt")}
    return {
        **summary_scores(wildcards),
        "mix_stats": [f"results/mixes/{m}.stats.json" for m in config.get("mixes", {})],
        "block_stats": expand(
            "results/corpus/blocks/{model}/{corpus}.stats.json",
            model=GRID.models,
            corpus=sorted(cpt_corpora),
        ),
        "train_logs": expand(
            "results/train_logs/{model}/{arm}.parquet",
            model=GRID.models,
            arm=trained_arms(),
        ),
        "base_models": expand("results/models/{model}/base", model=GRID.models),
    }


REPORT_FILES = ("mix_stats", "block_stats", "train_logs")


# Records the evaluation jobs write beside what the report takes as inputs: files inside their
# folders and the generation jobs' Snakemake benchmarks. Each job's score folder (an input of the
# summary and the report) is made after them, so they exist and are as new; naming them as inputs
# too would add a dependency per evaluation job to the DAG (3,648 in the thesis grid).
REPORT_JOB_RECORDS = {
    "throughput": [
        f"results/predictions/{model}/{arm}/{dataset}/throughput.json"
        for model in GRID.models
        for arm in GRID.arms
        for dataset in CELLS_OF
    ],
    "benchmarks": [
        f"results/benchmarks/generate/{model}/{arm}/{dataset}.tsv"
        for model in GRID.models
        for arm in GRID.arms
        for dataset in CELLS_OF
    ],
    "loglik": all_cell_files("loglik", GRID.loglik_arms, LOGLIK_CELLS_OF, ".jsonl"),
    # Checkout files, by their config names (jobs resolve them): their digest is a parameter.
    "published": config.get("published", []),
}


PUBLISHED_DIGEST = files_digest(
    [resolve(p, workflow.basedir) for p in config.get("published", [])]
)


def report_file_args(wildcards, input):
    """The report's `--name file ...` arguments."""
    files = {
        **{name: list(input[name]) for name in REPORT_FILES},
        **REPORT_JOB_RECORDS,
    }
    return [
        arg
        for name, paths in files.items()
        if paths
        for arg in (f"--{name.replace('_', '-')}", *paths)
    ]


def launcher(wildcards):
    """One training process per GPU of the job (CPU: `cpu_processes` of the arm's settings)."""
    job = shape("cpt", wildcards)
    procs = job.gpus_per_node or GRID.settings(wildcards.arm, wildcards.model).get(
        "cpu_processes", 1
    )
    cluster = "slurm" if job.nodes > 1 else "local"
    gpus = ["--gpus-per-node", str(job.gpus_per_node)] if job.gpus_per_node else []
    return [
        "--nodes",
        str(job.nodes),
        "--procs-per-node",
        str(procs),
        "--cluster",
        cluster,
        *gpus,
    ]


SETTINGS_WILDCARDS = ("model", "arm", "corpus", "mix", "traces")


def stage_settings_json(stage):
    """A rule's `settings` param: the canonical JSON of `stage`'s settings for the job's model, arm,
    corpus, mix or traces, as the grid resolves them (pipeline.dag.grid.Grid.stage_settings; all checked at start).
    """

    resolved = {}  # by job: the same settings for every dataset of a model × arm

    def settings(wildcards):
        job = tuple((k, v) for k, v in wildcards.items() if k in SETTINGS_WILDCARDS)
        if job not in resolved:
            resolved[job] = GRID.stage_settings(stage, **dict(job)).to_json()
        return resolved[job]

    return settings
