rule report:
    """Tables and figures for RQ1–RQ5, costs, ranks and progression, from the summary."""
    input:
        unpack(report_inputs),
        code=code("report", "evaluate/stats.py"),
        summary="results/summary.parquet",
    output:
        report(
            directory("results/report"),
            patterns=["{name}.png", "{name}.md"],
            caption="../report/report.rst",
            category="Report",
        ),
    log:
        "results/logs/report.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("report")
    resources:
        **job_resources("report"),
    params:
        grid=canonical_json(
            {
                k: config.get(k)
                for k in ("models", "arms", "mixes", "corpus", "training")
            }
        ),
        settings=canonical_json(
            {
                "seed": config["seed"],
                "bootstrap_samples": config["scoring"]["bootstrap_samples"],
                "confidence": config["scoring"]["confidence"],
                "config_hash": config_hash(config),
                **LOGLIK_GROUPS,
            }
        ),
        files=lambda wc, input: " ".join(
            f"--{name.replace('_', '-')} {' '.join(input[name])}"
            for name in REPORT_FILES
            if input[name]
        ),
    shell:
        "python -m pipeline.report --summary {input.summary} --scores-dir results/scores"
        " --stability-dir results/stability --grid {params.grid:q}"
        " {params.files} --model-dirs {input.base_models}"
        " --settings {params.settings:q} --output {output} > {log} 2>&1"
