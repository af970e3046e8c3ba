"""Per-job compute resources, derived from the config by rule and model size.

The same numbers drive the SLURM request (through Snakemake resources) and the
training launcher (nodes × processes per node), so the two cannot disagree.

Config layout::

    resources:
      default: {mem_mb: 8000, runtime: 60, cpus_per_task: 2}     # every rule
      rules:
        cpt: {gpus_per_node: 4, mem_mb: 400000, runtime: 2880}   # one rule, any model
      sizes:
        8B: {cpt: {nodes: 2}}                                    # one rule, one model size
    cluster: {partition: gpu, account: my-project}

A ``partition`` in a layer sends those jobs elsewhere than ``cluster.partition`` (e.g. the CPU-only
rules to a CPU partition). ``mem_mb`` is per node, as SLURM's ``--mem``: a job over several nodes
asks each of them for it.

Translation to the SLURM executor plugin's resources (facts from its code):
one node with G GPUs → ``gpu: G`` and no ``tasks`` (with GPUs, ``tasks`` becomes
``--ntasks-per-gpu``); several nodes → ``mpi: "srun"``, ``nodes``, ``tasks`` = nodes, and
``slurm_extra: "--gpus-per-node=G --ntasks-per-node=1 --exclusive"`` — the launcher then
starts one torchrun per node inside the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KNOWN = {"mem_mb", "runtime", "cpus_per_task", "gpus_per_node", "nodes", "partition", "constraint", "qos"}
# Every key a rule may declare; None leaves a resource unset for that job (RuleResources leaves out
# a key that no job of the rule sets).
RESOURCE_KEYS = (
    "mem_mb",
    "runtime",
    "cpus_per_task",
    "nodes",
    "gpu",
    "tasks",
    "mpi",
    "slurm_extra",
    "slurm_partition",
    "slurm_account",
    "constraint",
    "qos",
)
DEFAULT = {"mem_mb": 8000, "runtime": 60, "cpus_per_task": 2, "gpus_per_node": 0, "nodes": 1}


@dataclass(frozen=True)
class JobShape:
    """What one job asks for."""

    nodes: int
    gpus_per_node: int
    cpus_per_task: int
    mem_mb: int
    runtime: int
    partition: str | None = None
    constraint: str | None = None
    qos: str | None = None


def job_shape(config: dict[str, Any], rule: str, size: str | None = None) -> JobShape:
    """Defaults, then the rule's entry, then the rule's entry for the model's size class."""
    section = config.get("resources") or {}
    merged = dict(DEFAULT)
    layers = [
        ("resources.default", section.get("default") or {}),
        (f"resources.rules.{rule}", (section.get("rules") or {}).get(rule) or {}),
        (f"resources.sizes.{size}.{rule}", ((section.get("sizes") or {}).get(size) or {}).get(rule) or {}),
    ]
    for where, layer in layers:
        unknown = set(layer) - KNOWN
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(KNOWN)})")
        merged.update(layer)
    return JobShape(**merged)


def slurm_resources(config: dict[str, Any], shape: JobShape) -> dict[str, Any]:
    """Snakemake resources for the SLURM executor plugin (harmless for local runs); None = unset."""
    cluster = config.get("cluster") or {}
    resources: dict[str, Any] = dict.fromkeys(RESOURCE_KEYS)
    resources.update(
        mem_mb=shape.mem_mb,
        runtime=shape.runtime,
        cpus_per_task=shape.cpus_per_task,
        nodes=shape.nodes,
        constraint=shape.constraint,
        qos=shape.qos,
        slurm_partition=shape.partition
        or cluster.get("partition")
        or os.environ.get("MEDADAPT_SLURM_PARTITION"),
        slurm_account=cluster.get("account") or os.environ.get("MEDADAPT_SLURM_ACCOUNT"),
    )
    if shape.nodes > 1:
        resources.update(
            mpi="srun",
            tasks=shape.nodes,
            slurm_extra=f"--gpus-per-node={shape.gpus_per_node} --ntasks-per-node=1 --exclusive",
        )
    elif shape.gpus_per_node:
        resources.update(gpu=shape.gpus_per_node)
    return resources


class RuleResources:
    """Every rule's job shape and Snakemake resources under one config, computed once per rule and
    model size class. A resource on which every size class agrees is a plain value, which Snakemake
    uses as is; one that differs is a function of the job's `model` wildcard (Snakemake inspects and
    calls a resource function for every job: it was a dozen per job)."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.size_of: dict[str, str | None] = {
            name: (model or {}).get("size") for name, model in (config.get("models") or {}).items()
        }
        # None: a job without a model (or a model without a size class).
        self.sizes: list[str | None] = list(dict.fromkeys([None, *self.size_of.values()]))
        self._shapes: dict[tuple[str, str | None], JobShape] = {}

    def size(self, wildcards: Any) -> str | None:
        """The size class of a job's `model` wildcard (None without one)."""
        model = getattr(wildcards, "model", None)
        return self.size_of[model] if model else None

    def shape(self, rule: str, size: str | None = None) -> JobShape:
        """`job_shape` of `rule` for a size class, computed once."""
        key = (rule, size)
        if key not in self._shapes:
            self._shapes[key] = job_shape(self.config, rule, size)
        return self._shapes[key]

    def job_shape(self, rule: str, wildcards: Any) -> JobShape:
        """The shape of one job of `rule`, by the size class of its model."""
        return self.shape(rule, self.size(wildcards))

    def _by_size(self, values: dict[str | None, Any]) -> Any:
        """The one value every size class shares, else a function of the job's wildcards."""
        if len(set(values.values())) == 1:
            return next(iter(values.values()))
        return lambda wildcards: values[self.size(wildcards)]

    def resources(self, rule: str) -> dict[str, Any]:
        """Snakemake resources of `rule` (SLURM request included), from the config's `resources`.
        A key no job of the rule sets is left out: Snakemake drops unset (None) resources from every
        job anyway, after building each one."""
        by_size = {size: slurm_resources(self.config, self.shape(rule, size)) for size in self.sizes}
        return {
            key: self._by_size({s: r[key] for s, r in by_size.items()})
            for key in RESOURCE_KEYS
            if any(r[key] is not None for r in by_size.values())
        }

    def threads(self, rule: str) -> int | Callable[[Any], int]:
        """A job's threads (and so OMP_NUM_THREADS): the cpus_per_task of its shape."""
        return self._by_size({size: self.shape(rule, size).cpus_per_task for size in self.sizes})
