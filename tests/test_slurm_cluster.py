"""A real one-node SLURM (slurm/local-cluster.sh): the PARTAGES twin through `--profile slurm`,
every job's request checked against the config's `resources`; and a CPT job of 2 SLURM tasks
(srun + torchrun rendezvous, ZeRO-2 across 2 ranks) cancelled with `scancel` and resumed."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from pipeline.dag.grid import load_grid
from pipeline.dag.resources import job_shape
from test_cpt_train import BLOCK_SIZE, cpt_args, cpt_inputs  # noqa: F401 (the fixture, by name)

pytestmark = pytest.mark.e2e

SCRIPT = REPO / "slurm" / "local-cluster.sh"
CANNOT_HOST = 3  # the script's exit status where this machine cannot run the cluster


def free_port_pair() -> int:
    """A port P with P and P + 1 free (slurmctld and slurmd)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        try:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no pair of free ports")


def run(*argv: str, timeout: int = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """Start the one-node cluster (installing SLURM if needed); always stop it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("a local SLURM cluster needs root (slurmd starts jobs as their owner)")
    link = Path("/etc/slurm/slurm.conf")
    folder = tmp_path_factory.mktemp("slurm") / "cluster"
    stale = link.readlink().parent if link.is_symlink() else None
    if stale and stale.name == "cluster" and re.fullmatch(r"slurm\d*", stale.parent.name):
        # Left running by an earlier test session that was killed: stop it, or every later run skips.
        run(str(SCRIPT), "stop", env={**os.environ, "MEDADAPT_SLURM_DIR": str(stale)})
    env = {**os.environ, "MEDADAPT_SLURM_DIR": str(folder), "MEDADAPT_SLURM_PORT": str(free_port_pair())}
    started = run(str(SCRIPT), "start", env=env, timeout=600)
    try:
        if started.returncode == CANNOT_HOST:
            pytest.skip(f"no SLURM here: {started.stderr.strip()}")
        assert started.returncode == 0, started.stderr
        yield folder
    finally:
        for log in sorted(folder.glob("log/*.log")):  # shown by pytest where a test failed
            print(f"--- {log.name} (last lines)", *log.read_text().splitlines()[-30:], sep="\n")
        stopped = run(str(SCRIPT), "stop", env=env, timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert not folder.exists()
        assert not (link.is_symlink() and link.readlink() == folder / "slurm.conf")


def show_jobs() -> dict[str, dict[str, str]]:
    """`scontrol show job` of every job the controller still holds (MinJobAge=600), by job id."""
    result = run("scontrol", "--oneliner", "show", "job")
    assert result.returncode == 0, result.stderr
    jobs = {}
    for line in result.stdout.splitlines():
        fields = dict(re.findall(r"(\w+(?::\w+)?)=(\S*)", line))
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields
    return jobs


def minutes(limit: str) -> int:
    """A `TimeLimit` of scontrol ([D-]HH:MM:SS) in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, mins, secs = (int(part) for part in clock.split(":"))
    return (int(days or 0) * 24 + hours) * 60 + mins + (secs > 0)


def twin_config(tmp_path: Path) -> dict:
    """The PARTAGES twin at a smaller training scale (4 CPT steps, one kept checkpoint at step 2),
    with rule-specific resources so that each request can be traced to its config entry."""
    config = yaml.safe_load((REPO / "config/studies/partages-demo.yaml").read_text())
    config["training"]["cpt"].update(max_steps=4, save_steps=2)
    arms = config["arms"]
    del arms["pdapt@step-10"], arms["pdapt@step-20"]
    arms["pdapt@step-2"] = {"method": "checkpoint", "parent": "pdapt", "step": 2}
    config["resources"] = {
        "default": {"cpus_per_task": 1, "mem_mb": 1500, "runtime": 20},
        "rules": {"cpt": {"cpus_per_task": 2, "mem_mb": 3000, "runtime": 25}, "loglik": {"mem_mb": 2500}},
        "sizes": {"tiny": {"merge": {"runtime": 12}}},
    }
    return config


def test_partages_twin_runs_through_slurm_with_the_configured_requests(slurm_cluster, tmp_path):
    config = twin_config(tmp_path)
    config_path = tmp_path / "partages.yaml"
    config_path.write_text(yaml.safe_dump(config))
    workdir = tmp_path / "run"
    workdir.mkdir()
    # The project's profile as is, plus what this cluster needs: no accounting database, so job
    # states come from squeue (kept 600 s after the end); short first status check; SLURM logs kept.
    result = run(
        *(SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--profile", str(REPO / "slurm")),
        *("--configfile", str(config_path), "--directory", str(workdir)),
        *("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1"),
        *("--slurm-keep-successful-logs", "results/summary.parquet"),
        cwd=workdir,
        timeout=900,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "localrule" not in output  # every job went through sbatch

    run_id = re.search(r"SLURM run ID: (\S+)", output).group(1)
    submitted = dict(re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: (\S+)\)", output))
    jobs = {jobid: job for jobid, job in show_jobs().items() if job["JobName"] == run_id}
    assert set(jobs) == set(submitted)
    rules = Counter()
    for jobid, job in jobs.items():
        rule, _, wildcards = job["Comment"].removeprefix("rule_").partition("_wildcards_")
        rules[rule] += 1
        model = config["models"].get(wildcards.split("_")[0], {})  # the first wildcard, if a model
        shape = job_shape(config, rule, model.get("size"))
        request = (job["JobState"], int(job["NumCPUs"]), job["MinMemoryNode"], minutes(job["TimeLimit"]))
        assert request == ("COMPLETED", shape.cpus_per_task, f"{shape.mem_mb}M", shape.runtime), job
        # The job's SLURM log is where the executor said, under the run's .snakemake/slurm_logs.
        assert job["StdOut"] == submitted[jobid]
        assert Path(job["StdOut"]).is_relative_to(workdir / ".snakemake" / "slurm_logs")
        assert "Finished jobid: 0" in Path(job["StdOut"]).read_text()
    grid = load_grid(config, REPO)
    assert rules == {
        **dict.fromkeys(["demo_data", "base_model", "build_corpus", "corpus_blocks", "cpt"], 1),
        **dict.fromkeys(["checkpoint_model", "merge", "summary"], 1),
        **dict.fromkeys(["clean_source", "extract_tasks"], 2),
        # One log-likelihood job per model × arm × dataset.
        "loglik": len(grid.loglik_arms) * len({cell[0] for cell in grid.loglik_cells()}),
    }
    # The rules' own logs are in results/logs, written on the node by the jobs.
    assert "pipeline.train.cpt" in (workdir / "results/logs/cpt/qwen3-base/pdapt.log").read_text()

    summary = pl.read_parquet(workdir / "results/summary.parquet").filter(pl.col("evaluation") == "loglik")
    assert (
        set(summary.get_column("arm")) == set(grid.arms) == {"base", "pdapt", "pdapt@step-2", "pdapt-slerp"}
    )


def wait_for(condition, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def submit(script: Path) -> str:
    result = run("sbatch", "--parsable", str(script), cwd=REPO)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def job_state(jobid: str) -> str:
    return show_jobs()[jobid]["JobState"]


def finished(jobid: str) -> bool:
    return job_state(jobid) not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING")


def complete_checkpoints(state: Path) -> list[int]:
    return sorted(int(p.parent.name.split("-")[1]) for p in state.glob("checkpoint-*/medadapt_complete"))


def test_two_task_cpt_trains_across_ranks_and_resumes_after_scancel(slurm_cluster, request, tmp_path):
    inputs = request.getfixturevalue("cpt_inputs")  # tiny model + blocks, as in test_cpt_train.py
    settings = {
        "zero_stage": 2,
        "lr": 1e-3,
        "effective_batch_size": 8,
        "per_device_batch_size": 2,
        "max_steps": 12,
        "save_steps": 2,
        "keep_checkpoints": [4],
    }
    launch = [
        *(sys.executable, "-m", "pipeline.train.launch", "--cluster", "slurm", "--nodes", "1"),
        *("--tasks-per-node", "2", "--procs-per-node", "1", "--cpus-per-node", "1"),
        *("--port", str(free_port_pair()), "--", "pipeline.train.cpt"),
        *cpt_args(inputs, tmp_path, settings),
    ]
    log = tmp_path / "slurm-%j.log"
    # The batch script strips SLURM_* as the Snakemake job step does before the rule's command,
    # so the srun step must find the node list and job id itself, as on a multi-node allocation.
    script = tmp_path / "cpt.sbatch"
    script.write_text(
        "#!/bin/bash\n"
        f"#SBATCH --job-name=cpt-2-tasks --nodes=1 --ntasks=2 --cpus-per-task=1 --mem=6000 --time=10\n"
        f"#SBATCH --output={log}\n"
        'for v in $(compgen -e); do case $v in SLURM_JOB_ID) ;; SLURM_*|SRUN_*) unset "$v" ;; esac; done\n'
        f"export PYTHONPATH={shlex.quote(str(REPO / 'src'))} OMP_NUM_THREADS=1\n"
        f"exec {shlex.join(launch)}\n"
    )
    state = tmp_path / "state"

    first = submit(script)
    wait_for(lambda: complete_checkpoints(state) or finished(first), "a first checkpoint", 240)
    assert run("scancel", first).returncode == 0
    wait_for(lambda: finished(first), "the cancelled job to end", 60)
    assert job_state(first) == "CANCELLED", Path(str(log).replace("%j", first)).read_text()[-3000:]
    saved = complete_checkpoints(state)
    assert saved and saved[-1] < settings["max_steps"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "log.parquet").exists()

    second = submit(script)
    wait_for(lambda: finished(second), "the resubmitted job", 240)
    second_log = Path(str(log).replace("%j", second)).read_text()
    assert job_state(second) == "COMPLETED", second_log[-3000:]
    # The launcher's line: srun with 2 tasks on the node, torchrun rendezvous on the node list's head.
    assert "srun --nodes 1 --ntasks-per-node 2 --kill-on-bad-exit=1 --cpus-per-task 1" in second_log
    assert "--nnodes 2 --nproc_per_node 1 --rdzv_backend c10d" in second_log

    manifest = json.loads((tmp_path / "out" / "cpt_run.json").read_text())
    assert manifest["resumed_from"] == f"checkpoint-{saved[-1]}"
    assert manifest["world_size"] == 2 and manifest["steps"] == settings["max_steps"]
    assert manifest["deepspeed"]["zero_optimization"]["stage"] == 2
    train = pl.read_parquet(tmp_path / "log.parquet").filter(pl.col("loss").is_not_null())
    assert train["step"].to_list() == list(range(1, settings["max_steps"] + 1))
    assert train["tokens_seen"].to_list() == [8 * BLOCK_SIZE * s for s in train["step"]]
    assert (tmp_path / "out" / "checkpoints" / "step-4" / "model.safetensors").is_file()
