from pipeline.grid import load_grid
from pipeline.io import canonical_json

GRID = load_grid(config, base_dir=workflow.basedir)
SRC = Path(workflow.basedir) / "src" / "pipeline"
PY = "python -m"


wildcard_constraints:
    model="|".join(GRID.models),
    arm="[A-Za-z0-9_.-]+",
    dataset="[A-Za-z0-9_.-]+",


def code(*modules):
    """A stage's own source files: an input, so that editing them reruns the stage."""
    paths = []
    for module in ("io.py", *modules):
        path = SRC / module
        paths += sorted(map(str, path.rglob("*.py"))) if path.is_dir() else [str(path)]
    return paths


def produced(path):
    """`path` when the workflow itself makes it (demo data), for use as an input."""
    return ["results/demo"] if str(path).startswith("results/demo") else []


def model_dir(model, arm):
    return f"results/models/{model}/{arm}"


def parent_dir(wildcards):
    return model_dir(wildcards.model, GRID.arms[wildcards.arm].parent)


def arm_regex(method):
    return "|".join(GRID.arms_with(method)) or "^$"


def task_files(datasets=None):
    return [f"results/tasks/{d}.jsonl" for d in (datasets or GRID.registry)]
