rule merge:
    """Merge an arm's parent model with the base model (SLERP and friends), out of core."""
    input:
        code=code("merge"),
        base="results/models/{model}/base",
        model=parent_dir,
    output:
        directory("results/models/{model}/{arm}"),
    wildcard_constraints:
        arm=arm_regex("merge"),
    params:
        settings=arm_settings,
    threads: job_threads("merge")
    resources:
        **job_resources("merge"),
    benchmark:
        "results/benchmarks/merge/{model}/{arm}.tsv"
    log:
        "results/logs/merge/{model}/{arm}.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "{PY} pipeline.merge --base {input.base} --models {input.model} --output {output}"
        " --settings {params.settings:q} > {log} 2>&1"
