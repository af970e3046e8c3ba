"""medadapt: adapting open LLMs to multilingual medical NLP (IT, CPT, RoT, RPO, merging)."""

import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded demo is the default config; a config given with --configfile is the whole config
# (several files layer in order: a grid, then presets), not an extension of the demo's.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# The cluster image (workflow/containers/), used with --software-deployment-method apptainer.
container: config.get("container")


# The workflow and its jobs import the package from this checkout, installed or not.
sys.path.insert(0, str(Path(workflow.basedir) / "src"))


# common.smk checks the whole config before any job (pipeline.dag.config_check: the schema
# workflow/schemas/config.schema.yaml, every stage's effective settings, every cross-reference).
include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/tasks.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/merge.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        "results/summary.parquet",
        "results/report",
        "results/model_cards",
        "results/corpus/stats.md",
        expand("results/mixes/{mix}.contamination.json", mix=config.get("mixes", {})),


# Last, once every rule exists: `resources` may only name rules of the workflow.
check_resource_rules(config, [rule.name for rule in workflow.rules])
