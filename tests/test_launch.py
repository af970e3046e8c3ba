"""The launch command for nodes x processes (the real 2-rank run is in test_cpt_train.py)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import stand_in_commands
from pipeline.train.cpt_settings import CptSettings
from pipeline.train.deepspeed import gradient_accumulation_steps, load_deepspeed_config
from pipeline.train.launch import build_launch_command, main

SETTINGS = json.dumps({"zero_stage": 3, "effective_batch_size": 256, "per_device_batch_size": 4})
CPT_ARGS = [
    *("--model", "models/base", "--blocks", "corpus/blocks.parquet", "--output", "models/cpt"),
    *("--state-dir", "state/cpt", "--log", "logs/cpt.parquet", "--settings", SETTINGS),
    *("--deepspeed-config", "config/deepspeed/zero3.json"),
]


def test_single_node_uses_torchrun_standalone():
    command = build_launch_command("pipeline.train.cpt", CPT_ARGS, 1, 2, "local", torchrun="torchrun")
    assert shlex.split(command) == [
        *("torchrun", "--standalone", "--nnodes", "1", "--nproc_per_node", "2"),
        *("-m", "--", "pipeline.train.lifetime", "pipeline.train.cpt", *CPT_ARGS),
    ]


def test_two_nodes_of_four_gpus_under_slurm():
    command = build_launch_command(
        "pipeline.train.cpt", CPT_ARGS, 2, 4, "slurm", gpus_per_node=4, cpus_per_node=32, torchrun="torchrun"
    )
    outer = shlex.split(command)
    assert outer[:-3] == [
        *("srun", "--nodes", "2", "--ntasks-per-node", "1", "--kill-on-bad-exit=1"),
        *("--gpus-per-node", "4", "--cpus-per-task", "32"),
    ]
    assert outer[-3:-1] == ["bash", "-c"]
    step = outer[-1]
    # The rendezvous host is looked up inside the srun step, not in the (stripped) job environment.
    head, _, run = step.partition(" && ")
    assert head == 'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)'
    assert shlex.split(run) == [
        *("exec", "torchrun", "--nnodes", "2", "--nproc_per_node", "4", "--rdzv_backend", "c10d"),
        *("--rdzv_endpoint", "$head:29500", "--rdzv_id", "$SLURM_JOB_ID"),
        *("-m", "--", "pipeline.train.lifetime", "pipeline.train.cpt", *CPT_ARGS),
    ]
    # 8 ranks: the DeepSpeed batch arithmetic the training processes will derive.
    settings = CptSettings.from_json(SETTINGS)
    world = 2 * 4
    accumulation = gradient_accumulation_steps(
        settings.effective_batch_size, settings.per_device_batch_size, world
    )
    assert accumulation == 8 and accumulation * settings.per_device_batch_size * world == 256
    assert load_deepspeed_config(3, Path(__file__).parents[1] / "config/deepspeed/zero3.json")


def test_slurm_command_expands_inside_the_step(tmp_path):
    """Run the built command against stand-ins for srun, scontrol and torchrun."""
    scripts = {
        # srun: record its options, then run the step with the variables a real step gets.
        "srun": 'echo "$@" > "$RECORD.srun"\nexport SLURM_JOB_NODELIST="gpu[07-08]" SLURM_JOB_ID=4242\n'
        'while [ "$1" != bash ]; do shift; done\nexec "$@"\n',
        "scontrol": '[ "$1 $2 $3" = "show hostnames gpu[07-08]" ] && printf "gpu07\\ngpu08\\n"\n',
        "torchrun": f'exec {sys.executable} -c "import json, sys; print(json.dumps(sys.argv[1:]))" "$@"\n',
    }
    bin_dir = stand_in_commands(tmp_path / "bin", scripts)
    command = build_launch_command(
        "pipeline.train.cpt", CPT_ARGS, 2, 4, "slurm", port=29611, torchrun="torchrun"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env.update(PATH=f"{bin_dir}:{env['PATH']}", RECORD=str(tmp_path / "rec"))
    result = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    argv = json.loads(result.stdout)
    assert argv[argv.index("--rdzv_endpoint") + 1] == "gpu07:29611"
    assert argv[argv.index("--rdzv_id") + 1] == "4242"
    assert argv[argv.index("--settings") + 1] == SETTINGS
    assert (tmp_path / "rec.srun").read_text().startswith("--nodes 2 --ntasks-per-node 1")


def test_tasks_per_node_run_several_torchruns_per_node():
    """2 srun tasks on one node: the multi-node wiring with 2 rendezvous members (the real run is in
    test_slurm_cluster.py); one task per node and one node is the standalone launch."""
    command = build_launch_command(
        "pipeline.train.cpt", CPT_ARGS, 1, 1, "slurm", tasks_per_node=2, cpus_per_node=1, torchrun="torchrun"
    )
    outer = shlex.split(command)
    assert outer[:-3] == [
        *("srun", "--nodes", "1", "--ntasks-per-node", "2", "--kill-on-bad-exit=1", "--cpus-per-task", "1")
    ]
    run = shlex.split(outer[-1].partition(" && ")[2])
    assert run[:9] == [
        *("exec", "torchrun", "--nnodes", "2", "--nproc_per_node", "1", "--rdzv_backend", "c10d"),
        "--rdzv_endpoint",
    ]
    single = build_launch_command("m", [], 1, 2, "slurm", torchrun="torchrun")
    assert single.startswith("torchrun --standalone --nnodes 1 --nproc_per_node 2")


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="2 nodes need cluster='slurm'"):
        build_launch_command("m", [], 2, 4, "local")
    with pytest.raises(ValueError, match="must be positive"):
        build_launch_command("m", [], 1, 0, "local")
    with pytest.raises(ValueError, match="2 tasks per node need cluster='slurm'"):
        build_launch_command("m", [], 1, 1, "local", tasks_per_node=2)
    with pytest.raises(ValueError, match="cluster must be"):
        build_launch_command("m", [], 1, 1, "pbs")  # type: ignore[arg-type]


def test_cli_dry_run_prints_the_command(capsys):
    main(["--dry-run", "--nodes", "1", "--procs-per-node", "2", "--", "pipeline.train.cpt", *CPT_ARGS])
    printed = shlex.split(capsys.readouterr().out)
    assert Path(printed[0]).name == "torchrun"
    assert printed[1:] == [
        *(
            "--standalone",
            "--nnodes",
            "1",
            "--nproc_per_node",
            "2",
            "-m",
            "--",
            "pipeline.train.lifetime",
            "pipeline.train.cpt",
            *CPT_ARGS,
        )
    ]


SLEEPER = """import os, sys, time
open(os.path.join(sys.argv[1], f"{os.getpid()}.pid"), "w").close()
time.sleep(300)
"""


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie no reaper collected counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux-only")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "term"])
def test_killing_the_job_process_group_kills_every_training_process(tmp_path, sig):
    """`kill -9` (or SIGTERM, Snakemake cancelling) of Snakemake's process group also ends the torchrun
    workers, which torchrun starts in sessions of their own."""
    (tmp_path / "sleeper.py").write_text(SLEEPER)
    pids = tmp_path / "pids"
    pids.mkdir()
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(tmp_path)])}
    launch = f"{shlex.quote(sys.executable)} -m pipeline.train.launch --procs-per-node 2 -- sleeper {pids}"
    job = subprocess.Popen(["bash", "-c", launch], env=env, start_new_session=True)  # Snakemake's group
    workers: list[int] = []
    try:
        assert wait_for(lambda: len(list(pids.glob("*.pid"))) == 2, 120), "the workers never started"
        workers = [int(p.stem) for p in pids.glob("*.pid")]
        assert all(os.getsid(w) != os.getsid(job.pid) for w in workers)  # torchrun's own sessions
        os.killpg(job.pid, sig)
        job.wait(timeout=60)
        assert wait_for(lambda: not any(map(alive, workers)), 30), "a worker outlived the job"
    finally:
        for pid in [job.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_the_worker_wrapper_runs_the_module_in_the_same_process(tmp_path):
    (tmp_path / "whoami.py").write_text("import os, sys; print(os.getpid(), sys.argv[1:])")
    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(tmp_path)])}
    code = (
        "import os, subprocess, sys; p = subprocess.Popen([sys.executable, '-m',"
        " 'pipeline.train.lifetime', 'whoami', '--log', 'x'], stdout=subprocess.PIPE, text=True);"
        " out = p.communicate()[0].split(' ', 1);"
        " assert int(out[0]) == p.pid, out; print(out[1])"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['--log', 'x']"
