rule base_model:
    """The untouched model of the grid: built tiny (demo), or fetched/linked from its source."""
    input:
        source=base_inputs,
    output:
        directory("results/models/{model}/base"),
    log:
        "results/logs/base_model/{model}.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("base_model")
    resources:
        **job_resources("base_model"),
    params:
        code=code("pipeline.models.fetch"),
        family=lambda wc: config["models"][wc.model]["family"],
        variant=lambda wc: config["models"][wc.model]["variant"],
        source=base_source,
        text_dir=lambda wc: (
            ["--text-dir", "results/demo"]
            if MODEL_SOURCES[wc.model].kind == "tiny"
            else []
        ),
        settings=lambda wc: canonical_json(
            {"architecture": config.get("tiny_architecture"), "seed": config["seed"]}
            if MODEL_SOURCES[wc.model].kind == "tiny"
            else {}
        ),
    shell:
        "python -m pipeline.models.fetch --source {params.source:q} --family {params.family:q}"
        " --variant {params.variant:q} {params.text_dir:q} --settings {params.settings:q}"
        " --output {output:q} > {log:q} 2>&1"


rule checkpoint_model:
    """A kept CPT checkpoint as a model of its own (evaluated and merged like any arm)."""
    input:
        model=parent_dir,
        trained=trained_on,
    output:
        directory("results/models/{model}/{arm}"),
    log:
        "results/logs/checkpoint_model/{model}/{arm}.log",
    wildcard_constraints:
        arm=arm_regex("checkpoint"),
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("checkpoint_model")
    resources:
        **job_resources("checkpoint_model"),
    params:
        code=code("pipeline.models.fetch"),
        source=lambda wc, input: f"{input.model}/checkpoints/step-{GRID.arms[wc.arm].spec['step']}",
        family=lambda wc: config["models"][wc.model]["family"],
        variant=lambda wc: config["models"][wc.model]["variant"],
    shell:
        "python -m pipeline.models.fetch --source {params.source:q} --family {params.family:q}"
        " --variant {params.variant:q} --output {output:q} > {log:q} 2>&1"
