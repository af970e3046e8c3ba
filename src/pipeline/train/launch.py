"""Launch a training module on nodes x processes: torchrun locally, srun + torchrun across SLURM nodes.

    python -m pipeline.train.launch --nodes M --procs-per-node G --cluster local|slurm -- MODULE ARGS...

One node runs ``torchrun --standalone``. Several nodes run one torchrun per node under
``srun``; the rendezvous host (the first node of the allocation) is read inside the srun
step, because the Snakemake SLURM job-step helper strips most ``SLURM_*`` variables from
the job's own environment. ``--tasks-per-node T`` runs T torchruns per node instead (each
with G processes, M x T rendezvous members): the same multi-node wiring on one node, which
is how the local one-node cluster (slurm/local-cluster.sh) exercises it. The process group
backend is chosen by the training process (NCCL on GPUs, gloo on CPUs).

No training process outlives the job (see pipeline.train.lifetime): the launcher becomes torchrun
in Snakemake's process group, and dies with the job's shell; torchrun starts its workers in
sessions of their own, so each worker runs under `pipeline.train.lifetime`, which has the kernel
signal it when its torchrun agent dies. SIGTERM (Snakemake cancelling the job) reaches torchrun,
which forwards it to the workers.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pipeline.train.lifetime import die_with_parent

DEFAULT_PORT = 29500
WORKER_WRAPPER = "pipeline.train.lifetime"


def torchrun_executable() -> str:
    """The `torchrun` beside this interpreter (a venv need not be activated), else the one on PATH."""
    beside = Path(sys.executable).with_name("torchrun")
    return str(beside) if beside.is_file() else "torchrun"


def build_launch_command(
    module: str,
    args: Sequence[str],
    nodes: int,
    procs_per_node: int,
    cluster: Literal["local", "slurm"] = "local",
    *,
    port: int = DEFAULT_PORT,
    gpus_per_node: int | None = None,
    cpus_per_node: int | None = None,
    tasks_per_node: int = 1,
    torchrun: str | None = None,
) -> str:
    """The shell command that runs `python -m module args` in nodes x tasks_per_node x procs_per_node ranks.

    `gpus_per_node` and `cpus_per_node` are passed to srun (SLURM launches only), since a job step
    does not inherit the allocation's GPUs and CPUs once the SLURM variables are stripped;
    `cpus_per_node` is per srun task (`--cpus-per-task`).
    """
    if nodes < 1 or procs_per_node < 1 or tasks_per_node < 1:
        raise ValueError(
            f"nodes ({nodes}), procs_per_node ({procs_per_node}) and tasks_per_node"
            f" ({tasks_per_node}) must be positive"
        )
    if cluster not in ("local", "slurm"):
        raise ValueError(f"cluster must be 'local' or 'slurm', got {cluster!r}")
    if nodes > 1 and cluster != "slurm":
        raise ValueError(f"{nodes} nodes need cluster='slurm' (a local launch has one node)")
    if tasks_per_node > 1 and cluster != "slurm":
        raise ValueError(f"{tasks_per_node} tasks per node need cluster='slurm' (srun starts them)")
    runner = shlex.quote(torchrun or torchrun_executable())
    # "-m --": torchrun's argparse would otherwise claim script options that abbreviate its own
    # (e.g. the training CLI's --log is ambiguous with --log-dir / --logs-specs).
    target = shlex.join(["-m", "--", WORKER_WRAPPER, module, *args])
    members = nodes * tasks_per_node
    if members == 1:
        return f"{runner} --standalone --nnodes 1 --nproc_per_node {procs_per_node} {target}"
    step = (
        'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1) && '
        f"exec {runner} --nnodes {members} --nproc_per_node {procs_per_node} --rdzv_backend c10d "
        f'--rdzv_endpoint "$head:{port}" --rdzv_id "$SLURM_JOB_ID" {target}'
    )
    srun = ["srun", "--nodes", str(nodes), "--ntasks-per-node", str(tasks_per_node), "--kill-on-bad-exit=1"]
    if gpus_per_node is not None:
        srun += ["--gpus-per-node", str(gpus_per_node)]
    if cpus_per_node is not None:
        srun += ["--cpus-per-task", str(cpus_per_node)]
    return f"{shlex.join(srun)} bash -c {shlex.quote(step)}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--procs-per-node", type=int, required=True, help="GPUs per node, or CPU ranks")
    parser.add_argument("--cluster", choices=["local", "slurm"], default="local")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="rendezvous port (multi-node)")
    parser.add_argument("--gpus-per-node", type=int, help="srun --gpus-per-node (multi-node)")
    parser.add_argument("--cpus-per-node", type=int, help="srun --cpus-per-task (multi-node)")
    parser.add_argument(
        "--tasks-per-node", type=int, default=1, help="torchruns per node under srun (--cluster slurm)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- MODULE ARGS...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the module to run after --, e.g. -- pipeline.train.cpt --model ...")
    line = build_launch_command(
        command[0],
        command[1:],
        args.nodes,
        args.procs_per_node,
        args.cluster,
        port=args.port,
        gpus_per_node=args.gpus_per_node,
        cpus_per_node=args.cpus_per_node,
        tasks_per_node=args.tasks_per_node,
    )
    print(line, file=sys.stdout if args.dry_run else sys.stderr, flush=True)
    if not args.dry_run:
        die_with_parent()
        os.execvp("bash", ["bash", "-c", line])


if __name__ == "__main__":
    main()
