"""The workflow as a DAG: config validation, dry runs, lint."""

from __future__ import annotations

import ast
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SNAKEMAKE


def snakemake(
    *args: str, cwd: Path = REPO, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    counts = {}
    table = dry_run_output.split("Job stats:")[-1]
    for line in table.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def write_config(tmp_path: Path, edit) -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    edit(config)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_demo_dag_builds_every_stage(tmp_path):
    result = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(REPO / "config/config.yaml"))
    out = result.stdout
    counts = job_counts(out)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    n_models, n_arms = len(config["models"]), len(config["arms"])
    n_datasets = len(config["evaluate_datasets"])
    assert counts["base_model"] == n_models
    # One generation and one scoring job per model × arm × dataset: an edited dataset reruns its own.
    assert counts["generate"] == n_models * n_arms * n_datasets
    assert counts["score"] == n_models * n_arms * n_datasets
    for rule in ("demo_data", "extract_tasks", "clean_source", "build_corpus", "corpus_blocks", "cpt", "sft"):
        assert counts.get(rule, 0) >= 1, rule
    assert counts["merge"] == n_models and counts["summary"] == 1
    assert counts["loglik"] == n_models * len(config["loglik"]["arms"]) * len(config["loglik"]["datasets"])
    assert "Using workflow specific profile profiles/default" in result.stdout + result.stderr
    # Nothing built yet: training takes the mix and corpus files as plain inputs, no job waits on a
    # checkpoint (an input shown as <TBD> costs Snakemake a second pass over the whole DAG).
    assert "<TBD>" not in out
    jobs = out.split("\n\n")
    sft = [j for j in jobs if "rule sft:" in j]
    assert sft and all("results/mixes/" in j for j in sft)
    blocks = [j for j in jobs if "rule corpus_blocks:" in j]
    assert blocks and all(re.search(r"input: results/corpus/\S+\.parquet", j) for j in blocks)


def test_the_full_twin_adds_the_third_family(tmp_path):
    """`make demo-full`: the demo with Gemma 3 base and instruct layered in."""
    result = snakemake(
        "-n",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(REPO / "config/presets/thesis-twin.yaml"),
    )
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    counts = job_counts(result.stdout)
    assert counts["base_model"] == len(config["models"]) + 2
    assert "model=gemma3-instruct" in result.stdout


def test_unknown_config_key_stops_before_any_job(tmp_path):
    config = write_config(tmp_path, lambda c: c["generation"].update(beam_width=4))
    result = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert "beam_width" in result.stdout + result.stderr


def test_bad_config_value_names_the_key(tmp_path):
    config = write_config(tmp_path, lambda c: c["models"]["llama-base"].update(family="mistral"))
    result = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert "mistral" in result.stdout + result.stderr


def shell_commands(path: Path) -> dict[str, str]:
    """The shell command of every rule of a .smk file, by rule (the concatenated string literals)."""
    commands, rule, lines = {}, None, path.read_text().splitlines()
    for i, line in enumerate(lines):
        head = re.match(r"^(?:rule|checkpoint) (\w+):", line)
        rule = head.group(1) if head else rule
        if line.strip().startswith("shell:"):
            indent = len(line) - len(line.lstrip())
            body = [line.split("shell:", 1)[1]]
            for following in lines[i + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break
                body.append(following)
            commands[f"{path.name}:{rule}"] = ast.literal_eval("(" + "\n".join(body) + "\n)")
    return commands


def unquoted_placeholders(command: str) -> list[str]:
    """Placeholders without `:q`; only `threads` and `resources.*` (numbers Snakemake owns) may go bare."""
    return [
        field
        for _, field, spec, _ in string.Formatter().parse(command)
        if field is not None
        and not (spec or "").endswith("q")
        and field != "threads"
        and not field.startswith("resources.")
    ]


def test_every_shell_placeholder_is_quoted():
    """Names are data, never code: every value a rule puts on a command line is shell-quoted."""
    commands = {
        rule: command
        for path in sorted((REPO / "workflow" / "rules").glob("*.smk"))
        for rule, command in shell_commands(path).items()
    }
    assert len(commands) >= 20 and "tasks.smk:extract_tasks" in commands
    assert unquoted_placeholders("x --a {input.a} --b {params.b:q} --t {threads} '{{}}'") == ["input.a"]
    unquoted = {
        rule: fields for rule, command in commands.items() if (fields := unquoted_placeholders(command))
    }
    assert unquoted == {}


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c, r: r["datasets"].update({"q`touch PWNED`": r["datasets"]["demo-ner"]}), "q`touch PWNED`"),
        (lambda c, r: c["models"].update({"my model;id": c["models"]["llama-base"]}), "models.'my model;id'"),
        (
            lambda c, r: c["arms"].update({"it;id": {"method": "sft", "parent": "base", "mix": "it"}}),
            "arms.'it;id'",
        ),
        (lambda c, r: c["mixes"].update({"$(id)": {"kind": "it"}}), "mixes.'$(id)'"),
    ],
)
def test_names_that_are_code_stop_the_dry_run(tmp_path, edit, named):
    """A dataset, model, arm or mix whose name is shell code is rejected before any job, by key."""
    registry = yaml.safe_load((REPO / "config" / "datasets" / "demo.yaml").read_text())
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))

    def change(config):
        config["registry"] = str(tmp_path / "registry.yaml")
        edit(config, registry)
        (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))

    config = write_config(tmp_path, change)
    result = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(config), check=False)
    out = result.stdout + result.stderr
    assert result.returncode != 0 and named in out and "not a valid name" in out
    assert not (tmp_path / "PWNED").exists()


def test_lint_is_clean():
    result = snakemake("--lint", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    shutil.which("snakefmt") is None and not (Path(sys.executable).parent / "snakefmt").exists(),
    reason="snakefmt not installed",
)
def test_snakefmt_is_clean():
    snakefmt = str(Path(sys.executable).parent / "snakefmt")
    files = ["Snakefile", *map(str, sorted((REPO / "workflow" / "rules").glob("*.smk")))]
    result = subprocess.run([snakefmt, "--check", *files], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def job_mem_mb(job: str) -> int:
    """The `mem_mb` resource of one job in a dry run's output."""
    return int(re.search(r"\bmem_mb=(\d+)", job).group(1))


def test_thesis_grid_dry_runs_with_the_slurm_profile(tmp_path):
    """The full grid's DAG builds under the SLURM profile, with GPU and multi-node requests visible."""
    result = snakemake(
        "-n",
        "--profile",
        str(REPO / "slurm"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/thesis.yaml"),
        cwd=REPO,
    )
    out = result.stdout
    counts = job_counts(out)
    print("jobs per rule:", counts)
    # A fresh checkout: the 16 public datasets (the restricted ones are not placed) and their data.
    assert counts["base_model"] == 12 and counts["extract_tasks"] == 16
    assert counts["fetch_data"] == 16 and "data/e3c.sha256" in out and "data/medical-o1.sha256" in out
    assert "restricted data source 'n2c2-2010' is not at data/restricted/n2c2-2010/" in out + result.stderr
    # One generation and one scoring job per model × arm × evaluated dataset (its cells together).
    from pipeline.dag.grid import load_grid

    grid = load_grid(yaml.safe_load((REPO / "config/thesis.yaml").read_text()), REPO, workdir=tmp_path)
    assert counts["generate"] == counts["score"] == 12 * 19 * len({cell[0] for cell in grid.cells()})
    jobs = out.split("\n\n")
    small_cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-1.7b," in j)
    large_cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-8b," in j)
    generate = next(j for j in jobs if "rule generate:" in j)
    assert "gpu=4" in small_cpt and "nodes=1" in small_cpt
    assert "nodes=2" in large_cpt and "mpi=srun" in large_cpt and "--gpus-per-node=4" in large_cpt
    assert "--nodes 2 --procs-per-node 4 --cluster slurm" in large_cpt
    # SLURM's --mem is per node: each node of the 2-node job runs what the 1-node job runs.
    assert job_mem_mb(large_cpt) == job_mem_mb(small_cpt)
    assert "gpu=1" in generate


def test_a_configfile_replaces_the_demo_config():
    """Run from the checkout, `--configfile` is the whole config: no demo model joins the thesis grid."""
    out = snakemake("-n", "results/summary.parquet", "--configfile", str(REPO / "config/thesis.yaml")).stdout
    assert job_counts(out)["base_model"] == 12 and "llama-base" not in out


@pytest.mark.parametrize(
    ("study", "expected"),
    [
        ("preferred-medllm", {"cpt": 2, "preferences": 6, "rpo": 6, "stability": 20, "score_stability": 20}),
        ("partages", {"cpt": 4, "checkpoint_model": 20, "merge": 4, "loglik": 96, "lm_eval": 32}),
    ],
)
def test_study_presets_dry_run_with_the_slurm_profile(tmp_path, study, expected):
    """Each full study preset builds its DAG under the SLURM profile with GPU requests where they belong."""
    out = snakemake(
        "-n",
        "-p",
        "--profile",
        str(REPO / "slurm"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / f"config/studies/{study}.yaml"),
    ).stdout
    counts = job_counts(out)
    assert {rule: counts.get(rule, 0) for rule in expected} == expected
    assert "generate" not in counts and "sft" not in counts
    jobs = out.split("\n\n")
    large_cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-8b," in j)
    small_cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-1.7b," in j)
    assert "nodes=2" in large_cpt and "mpi=srun" in large_cpt and "--gpus-per-node=4" in large_cpt
    assert job_mem_mb(large_cpt) == job_mem_mb(small_cpt)  # per node, as SLURM's --mem
    if study == "preferred-medllm":
        rpo = {
            m: next(j for j in jobs if "rule rpo:" in j and f"model={m}, arm=cpt-rpo" in j)
            for m in ("qwen3-8b", "qwen3-1.7b")
        }
        assert '"quantization":"nf4"' in rpo["qwen3-8b"] and '"quantization":null' in rpo["qwen3-1.7b"]
        assert "gpu=1" in rpo["qwen3-8b"] and "gpu=1" in next(j for j in jobs if "rule stability:" in j)
    else:
        merge = next(j for j in jobs if "rule merge:" in j and "model=qwen3-4b," in j)
        assert "results/models/qwen3-4b/pdapt@step-1440" in merge
        cpt = next(j for j in jobs if "rule cpt:" in j and "model=qwen3-4b," in j)
        assert '"max_steps":4320' in cpt and '"save_steps":720' in cpt  # the paper's schedule
        assert '"required_checkpoints":[720,1440,2160,2880,3600]' in cpt  # checked before training
        assert "gpu=1" in next(j for j in jobs if "rule loglik:" in j)


def test_stability_runs_one_job_per_model_arm_and_dataset(tmp_path):
    """Each stability dataset has its own generation and scoring jobs, which read only its files:
    editing one dataset (data or reader) reruns its stability jobs, not the other datasets'."""
    from pipeline.dag.grid import load_grid

    path = REPO / "config/studies/preferred-medllm.yaml"
    out = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(path)).stdout
    grid = load_grid(yaml.safe_load(path.read_text()), REPO, workdir=tmp_path)
    assert len(grid.stability_datasets) > 1
    expected = {(m, a, d) for m in grid.models for a in grid.stability_arms for d in grid.stability_datasets}
    for rule in ("stability", "score_stability"):
        jobs = {}
        for job in re.split(r"\n(?=\w+ \w+:\n)", out):
            if not job.startswith(f"rule {rule}:"):
                continue
            wildcards = dict(kv.split("=") for kv in re.search(r"wildcards: (.*)", job).group(1).split(", "))
            inputs = re.search(r"input: (.*)", job).group(1).split(", ")
            jobs[(wildcards["model"], wildcards["arm"], wildcards["dataset"])] = inputs
        assert set(jobs) == expected, rule
        for (_, _, dataset), inputs in jobs.items():
            if rule == "stability":  # its model and its dataset's task file
                assert [p for p in inputs if p.startswith("results/tasks/")] == [
                    f"results/tasks/{dataset}.jsonl"
                ]
            else:  # its dataset's predictions, one folder per style
                assert len(inputs) == 2 and all(p.endswith(f"/{dataset}") for p in inputs)


@pytest.mark.parametrize("study", ["preferred-medllm-demo", "partages-demo"])
def test_study_demo_twins_dry_run(tmp_path, study):
    out = snakemake(
        "-n", "-p", "--directory", str(tmp_path), "--configfile", str(REPO / f"config/studies/{study}.yaml")
    ).stdout
    assert job_counts(out)["summary"] == 1 and "generate" not in job_counts(out)
    if study == "preferred-medllm-demo":
        preferences = next(line for line in out.splitlines() if "pipeline.train.preferences" in line)
        assert (
            "--examples results/tasks/demo-mcq.jsonl --output" in preferences
        )  # training.preferences.datasets
        assert '"datasets"' not in preferences
        stability = next(line for line in out.splitlines() if "pipeline.evaluate.stability" in line)
        assert '"max_new_tokens":64' in stability and '"k_shot":1' in stability  # stability overrides


def test_python_is_ruff_clean():
    ruff = str(Path(sys.executable).parent / "ruff")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *args, "src", "tests", "benchmarks"], cwd=REPO, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_development_preset_reads_the_shared_samples_and_fetches_nothing(tmp_path):
    """thesis.yaml + presets/dev-shared-data.yaml: the twin registry on ../shared/data, no fetch job."""
    out = snakemake(
        "-n",
        "results/mixes/rot.jsonl",
        "results/corpus/clean/e3c-it.parquet",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/thesis.yaml"),
        str(REPO / "config/presets/dev-shared-data.yaml"),
    ).stdout
    counts = job_counts(out)
    assert "fetch_data" not in counts and counts["extract_tasks"] == 15 and counts["extract_traces"] == 2
    assert not re.search(r"^\s+(input|output): (.*[ ,])?data/(e3c|medical-o1)", out, re.MULTILINE)


def test_presets_layer_over_the_thesis_grid(tmp_path):
    """A preset config changes exactly the settings it names, and its arms join the grid."""
    result = snakemake(
        "-n",
        "-p",
        "--directory",
        str(tmp_path),
        "--configfile",
        str(REPO / "config/thesis.yaml"),
        str(REPO / "config/presets/cpt-preferred-medllm.yaml"),
        str(REPO / "config/presets/rpo-ablations.yaml"),
    )
    out = result.stdout + result.stderr
    cpt = next(
        line
        for line in out.splitlines()
        if "pipeline.train.cpt --model results/models/qwen3-8b/base " in line
    )
    assert '"lr_scheduler":"cosine"' in cpt and '"epochs":2' in cpt and '"warmup_ratio":0.03' in cpt
    assert '"effective_batch_size":1152' in cpt  # kept from the thesis grid
    assert "results/models/qwen3-8b/cpt-dpo" in out and "results/models/qwen3-8b/rpo-only" in out


def test_lm_eval_tasks_are_a_config_line(tmp_path):
    """lm-eval tasks by name (here a group from a local include_path) on the chosen arms; their
    scores reach the summary and lm-eval's results JSON is a target beside them."""
    tasks = tmp_path / "lm_tasks"
    tasks.mkdir()
    (tasks / "med_local.yaml").write_text("group: med_local\ntask: [med_local_en]\n")

    def edit(config):
        config["lm_eval"] = {
            "tasks": ["med_local", "pubmedqa"],
            "include_path": str(tasks),
            "arms": ["base", "it"],
        }
        config["scoring"]["correction"] = "bh"

    out = snakemake(
        "-n", "-p", "--directory", str(tmp_path), "--configfile", str(write_config(tmp_path, edit))
    ).stdout
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert job_counts(out)["lm_eval"] == 2 * len(config["models"])
    job = next(line for line in out.splitlines() if "pipeline.evaluate.harness" in line)
    assert '"tasks":["med_local","pubmedqa"]' in job and "results/lm_eval/" in job and "results.json" in job
    summary = next(line for line in out.splitlines() if "python -m pipeline.summary" in line)
    assert "--lm-eval-scores results/lm_eval/" in summary and '"correction":"bh"' in summary


def test_a_missing_data_path_stops_the_dry_run(tmp_path):
    """A registry path beside the checkout is a job input: missing, it stops `snakemake -n`, naming it."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "studies" / "real-smollm2.yaml").read_text())
    registry = yaml.safe_load((REPO / config["registry"]).read_text())
    registry["datasets"]["medqa"]["path"] = "../shared/data/qa/no-such-medqa"
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump(registry))
    config["registry"] = str(tmp_path / "registry.yaml")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(
        "-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"), check=False
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0 and "no-such-medqa" in out and "Job stats" not in out, out
