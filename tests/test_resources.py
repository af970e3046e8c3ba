"""Job resources: config layers, SLURM translation, launcher agreement, profiles."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, stand_in_commands
from pipeline.dag.resources import RuleResources, job_shape, slurm_resources

CONFIG = {
    "resources": {
        "default": {"mem_mb": 4000, "runtime": 30},
        "rules": {
            "cpt": {"gpus_per_node": 4, "cpus_per_task": 32, "runtime": 2880},
            "generate": {"gpus_per_node": 1},
        },
        "sizes": {"8B": {"cpt": {"nodes": 2, "mem_mb": 480000}}},
    },
    "cluster": {"partition": "gpu", "account": "medadapt"},
}


def test_layers_merge_default_rule_and_size():
    small = job_shape(CONFIG, "cpt", "1B")
    large = job_shape(CONFIG, "cpt", "8B")
    assert (small.nodes, small.gpus_per_node, small.mem_mb, small.runtime) == (1, 4, 4000, 2880)
    assert (large.nodes, large.gpus_per_node, large.mem_mb) == (2, 4, 480000)
    assert job_shape(CONFIG, "score").gpus_per_node == 0


def test_single_node_gpu_job_sets_gpu_and_no_tasks():
    resources = slurm_resources(CONFIG, job_shape(CONFIG, "cpt", "1B"))
    assert resources["gpu"] == 4 and resources["nodes"] == 1
    # With GPUs the plugin turns `tasks` into --ntasks-per-gpu: it must stay unset.
    assert resources["tasks"] is None and resources["mpi"] is None
    assert resources["slurm_partition"] == "gpu" and resources["slurm_account"] == "medadapt"


def test_multi_node_job_uses_srun_and_gpus_per_node():
    resources = slurm_resources(CONFIG, job_shape(CONFIG, "cpt", "8B"))
    assert resources["gpu"] is None
    assert resources["mpi"] == "srun" and resources["nodes"] == 2 and resources["tasks"] == 2
    assert resources["slurm_extra"] == "--gpus-per-node=4 --ntasks-per-node=1 --exclusive"


def test_cpu_job_requests_no_gpu():
    resources = slurm_resources({}, job_shape({}, "score"))
    assert resources["gpu"] is None and resources["slurm_extra"] is None
    assert resources["slurm_partition"] is None


def test_partition_from_environment(monkeypatch):
    monkeypatch.setenv("MEDADAPT_SLURM_PARTITION", "a100")
    assert slurm_resources({}, job_shape({}, "score"))["slurm_partition"] == "a100"


def test_a_rule_or_size_class_may_name_its_own_partition():
    """CPU-only rules can go to a CPU partition while `cluster.partition` holds the GPU jobs."""
    config = {**CONFIG, "resources": {**CONFIG["resources"], "default": {"partition": "cpu"}}}
    config["resources"]["rules"] = {**CONFIG["resources"]["rules"], "generate": {"partition": "a100"}}
    assert slurm_resources(config, job_shape(config, "score"))["slurm_partition"] == "cpu"
    assert slurm_resources(config, job_shape(config, "generate"))["slurm_partition"] == "a100"
    config["resources"]["sizes"] = {"8B": {"generate": {"partition": "h100"}}}
    assert slurm_resources(config, job_shape(config, "generate", "8B"))["slurm_partition"] == "h100"
    assert slurm_resources(config, job_shape(config, "generate", "1B"))["slurm_partition"] == "a100"
    assert slurm_resources(CONFIG, job_shape(CONFIG, "score"))["slurm_partition"] == "gpu"  # the cluster's


def test_unknown_resource_key_is_named():
    with pytest.raises(ValueError, match=r"resources\.sizes\.8B\.cpt.*gpus"):
        job_shape({"resources": {"sizes": {"8B": {"cpt": {"gpus": 8}}}}}, "cpt", "8B")


def test_profiles_do_not_collide():
    """The default workflow profile's top-level keys replace a --profile's: they must be disjoint."""
    slurm = yaml.safe_load((REPO / "slurm" / "config.yaml").read_text())
    default = yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert not set(slurm) & set(default)
    assert not {"set-resources", "default-resources", "resources"} & (set(slurm) | set(default))


# Stand-ins for SLURM's commands: sbatch records its arguments (one per line) and answers a job
# id; sacctmgr and sshare know one account (the plugin checks the job's); the rest answer nothing.
SLURM_STAND_INS = {
    "sbatch": 'printf \'%s\\n\' "$@" > "$0.args.tmp" && mv "$0.args.tmp" "$0.args"\necho 4242\n',
    **dict.fromkeys(["sacctmgr", "sshare"], "echo medadapt\n"),
    **dict.fromkeys(["sacct", "sinfo", "squeue", "scancel"], "exit 0\n"),
}


def first_submission(tmp_path: Path, config: dict, target: str, timeout: float = 180) -> list[str]:
    """The sbatch arguments of the first job `snakemake --profile slurm` submits (then stopped)."""
    fake_bin = stand_in_commands(tmp_path / "bin", SLURM_STAND_INS)
    config_path, workdir, log = tmp_path / "config.yaml", tmp_path / "run", tmp_path / "snakemake.log"
    config_path.write_text(yaml.safe_dump(config))
    with log.open("w") as out:
        snakemake = subprocess.Popen(
            [
                *(SNAKEMAKE, "--snakefile", str(REPO / "Snakefile")),
                *("--profile", str(REPO / "slurm"), "--configfile", str(config_path)),
                *("--directory", str(workdir), target),
            ],
            cwd=REPO,
            env={**os.environ, "PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + timeout
            while not (fake_bin / "sbatch.args").exists():
                assert snakemake.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, (
                    f"no job submitted in {timeout} s:\n{log.read_text()[-4000:]}"
                )
                time.sleep(0.2)
        finally:
            with contextlib.suppress(ProcessLookupError):  # already gone: its log says why
                os.killpg(snakemake.pid, signal.SIGKILL)
            snakemake.wait()
    return (fake_bin / "sbatch.args").read_text().splitlines()


def test_a_slurm_job_gets_the_cores_it_requests(tmp_path):
    """Snakemake hands the submitting process's --cores to every job step, where it caps the job's
    threads and so OMP_NUM_THREADS: no profile may set it, or a job asking for more CPUs than the
    login node has would run on the login node's count. The job also goes to its rule's partition
    (over the cluster's) under the cluster's account."""
    cpus = (os.cpu_count() or 1) + 6
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["resources"]["rules"] = {"demo_data": {"cpus_per_task": cpus, "partition": "cpu"}}
    config["cluster"] = {"partition": "gpu", "account": "medadapt"}
    args = first_submission(tmp_path, config, "results/demo")
    assert f"--cpus-per-task={cpus}" in args
    assert args[args.index("-p") + 1] == "cpu" and args[args.index("-A") + 1] == "medadapt"
    job_step = next(arg for arg in args if arg.startswith("--wrap="))
    assert "--target-jobs 'demo_data:'" in job_step
    cores = re.search(r"--cores (\S+)", job_step).group(1).strip("'")
    assert cores == "all" or int(cores) >= cpus, job_step


def test_rule_resources_are_plain_values_unless_a_size_class_differs():
    """Snakemake evaluates a resource function for every job: only keys that differ by size are one."""
    config = {**CONFIG, "models": {"a": {"size": "1B"}, "b": {"size": "8B"}, "c": {}}}
    table = RuleResources(config)
    score = table.resources("score")
    assert not any(callable(v) for v in score.values())
    expected = slurm_resources(config, job_shape(config, "score"))
    assert score == {k: v for k, v in expected.items() if v is not None}  # unset keys left out
    assert table.threads("score") == job_shape(config, "score").cpus_per_task
    cpt = table.resources("cpt")
    by_size = {k for k, v in cpt.items() if callable(v)}
    assert by_size == {"nodes", "mem_mb", "gpu", "tasks", "mpi", "slurm_extra"}
    for model, size in (("a", "1B"), ("b", "8B"), ("c", None)):
        wildcards = SimpleNamespace(model=model)
        expected = slurm_resources(config, job_shape(config, "cpt", size))
        evaluated = {k: v(wildcards) if callable(v) else v for k, v in cpt.items()}
        assert evaluated == {k: v for k, v in expected.items() if k in cpt}
        assert all(v is None for k, v in expected.items() if k not in cpt)
        assert table.job_shape("cpt", wildcards) == job_shape(config, "cpt", size)
    assert table.threads("cpt") == 32


def test_rule_resources_without_models_use_the_rule_entry():
    table = RuleResources(CONFIG)
    expected = slurm_resources(CONFIG, job_shape(CONFIG, "generate"))
    assert table.resources("generate") == {k: v for k, v in expected.items() if v is not None}
    assert table.job_shape("generate", SimpleNamespace()) == job_shape(CONFIG, "generate")
