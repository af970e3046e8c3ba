import re
import shlex

from snakemake.settings.types import DeploymentMethod

from pipeline.grid import load_grid
from pipeline.io import canonical_json
from pipeline.resources import RESOURCE_KEYS, job_shape, slurm_resources

GRID = load_grid(config, base_dir=workflow.basedir)
SRC = Path(workflow.basedir) / "src" / "pipeline"
# Jobs run the interpreter that runs Snakemake, unless a conda env provides its own.
USES_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
PY = "python -m" if USES_CONDA else f"{shlex.quote(sys.executable)} -m"


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


def code(*modules):
    """A stage's own source files: an input, so that editing them reruns the stage."""
    paths = []
    for module in ("io.py", *modules):
        path = SRC / module
        paths += sorted(map(str, path.rglob("*.py"))) if path.is_dir() else [str(path)]
    return paths


def produced(path):
    """The demo folder when `path` (or any per-language path) lies in it, for use as an input."""
    paths = path.values() if isinstance(path, dict) else [path]
    return ["results/demo"] if any(str(p).startswith("results/demo") for p in paths) else []


def model_dir(model, arm):
    return f"results/models/{model}/{arm}"


def parent_dir(wildcards):
    return model_dir(wildcards.model, GRID.arms[wildcards.arm].parent)


def arm_regex(method):
    return one_of(GRID.arms_with(method))


def task_files(datasets=None):
    return [f"results/tasks/{d}.jsonl" for d in (datasets or GRID.registry)]


def shape(rule, wildcards):
    """The compute a job of `rule` asks for, by the size class of its model."""
    model = getattr(wildcards, "model", None)
    return job_shape(config, rule, config["models"][model].get("size") if model else None)


def job_resources(rule):
    """Snakemake resources of `rule` (SLURM request included), from the config's `resources`."""

    def value(key):
        return lambda wildcards: slurm_resources(config, shape(rule, wildcards))[key]

    return {key: value(key) for key in RESOURCE_KEYS}


def job_threads(rule):
    """A job's threads (and so OMP_NUM_THREADS): the cpus_per_task of its resources."""
    return lambda wildcards: shape(rule, wildcards).cpus_per_task
