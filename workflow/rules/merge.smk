rule merge:
    """Merge an arm's parent model with the base model (SLERP and friends), out of core."""
    input:
        base="results/models/{model}/base",
        model=parent_dir,
        trained=trained_on,
    output:
        directory("results/models/{model}/{arm}"),
    log:
        "results/logs/merge/{model}/{arm}.log",
    benchmark:
        "results/benchmarks/merge/{model}/{arm}.tsv"
    wildcard_constraints:
        arm=arm_regex("merge"),
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("merge")
    resources:
        **job_resources("merge"),
    params:
        code=code("pipeline.merge"),
        settings=stage_settings_json("merge"),
    shell:
        "python -m pipeline.merge --base {input.base:q} --models {input.model:q} --output {output:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"
