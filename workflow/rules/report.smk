rule report:
    """Tables and figures for RQ1–RQ5, costs, ranks and progression, from the summary."""
    input:
        unpack(report_inputs),
        summary="results/summary.parquet",
        trained=trained_on,
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
        code=code("pipeline.report"),
        grid=canonical_json(
            {
                k: config.get(k)
                for k in ("models", "arms", "mixes", "corpus", "training")
            }
        ),
        settings=stage_settings_json("report"),
        config_hash=config_hash(config),
        files=report_file_args,
        published=PUBLISHED_DIGEST,
    shell:
        "python -m pipeline.report --summary {input.summary:q} --scores-dir results/scores"
        " --stability-dir results/stability --grid {params.grid:q}"
        " {params.files:q} --model-dirs {input.base_models:q}"
        " --settings {params.settings:q} --config-hash {params.config_hash:q} --output {output:q} > {log:q} 2>&1"


rule model_cards:
    """Every model folder's card with its evaluation rows from the summary (to publish a model with)."""
    input:
        summary="results/summary.parquet",
        models=expand("results/models/{model}/{arm}", model=GRID.models, arm=GRID.arms),
        trained=trained_on,
    output:
        directory("results/model_cards"),
    log:
        "results/logs/model_cards.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("model_cards")
    resources:
        **job_resources("model_cards"),
    params:
        code=code("pipeline.cards"),
    shell:
        "python -m pipeline.cards cards {input.models:q} --summary {input.summary:q}"
        " --output {output:q} > {log:q} 2>&1"
