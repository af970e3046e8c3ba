"""Job resources: config layers, SLURM translation, launcher agreement, profiles."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from conftest import REPO
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
