rule demo_data:
    """Generate the embedded demo's corpus, datasets and traces in their native formats."""
    output:
        directory("results/demo"),
    log:
        "results/logs/demo_data.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("demo_data")
    resources:
        **job_resources("demo_data"),
    params:
        code=code("pipeline.demo.data"),
        settings=canonical_json({"seed": config["seed"], **config.get("demo", {})}),
    shell:
        "python -m pipeline.demo.data --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"
