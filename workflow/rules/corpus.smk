rule clean_source:
    """Clean one raw corpus source: Unicode, alphabet, URLs, whitespace, short docs (counted)."""
    input:
        data=lambda wc: data_inputs(config["corpus"]["sources"][wc.source]["path"]),
        fetched=lambda wc: GRID.corpus_targets(wc.source),
    output:
        clean="results/corpus/clean/{source}.parquet",
        stats="results/corpus/clean/{source}.stats.json",
    log:
        "results/logs/clean_source/{source}.log",
    benchmark:
        "results/benchmarks/clean_source/{source}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("clean_source")
    resources:
        **job_resources("clean_source"),
    params:
        code=code("pipeline.corpus.clean"),
        source=lambda wc: canonical_json(source_spec(wc.source)),
        settings=stage_settings_json("corpus_clean"),
    shell:
        "python -m pipeline.corpus.clean --source {params.source:q} --settings {params.settings:q}"
        " --output {output.clean:q} --stats {output.stats:q} > {log:q} 2>&1"


checkpoint build_corpus:
    """A named training corpus: de-duplicated, licence-filtered and decontaminated. A checkpoint:
    a rebuilt corpus with the same documents (a test-set edit that removes nothing new) reruns no CPT.
    """
    input:
        clean=lambda wc: [
            f"results/corpus/clean/{s}.parquet"
            for s in corpus_spec(wc.corpus)["sources"]
        ],
        tasks=task_files(),
    output:
        corpus=TRAINING_DATA_FILES["corpus"],
        report="results/corpus/{corpus}.report.json",
    log:
        "results/logs/build_corpus/{corpus}.log",
    benchmark:
        "results/benchmarks/build_corpus/{corpus}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("build_corpus")
    resources:
        **job_resources("build_corpus"),
    params:
        code=code("pipeline.corpus.build"),
        settings=stage_settings_json("corpus_build"),
    shell:
        "python -m pipeline.corpus.build --inputs {input.clean:q} --tasks {input.tasks:q}"
        " --settings {params.settings:q} --output {output.corpus:q} --report {output.report:q} > {log:q} 2>&1"


rule corpus_blocks:
    """Tokenise a corpus with a model's tokenizer into fixed-length blocks."""
    input:
        corpus=training_data_input(
            "corpus", "results/corpus/blocks/{model}/{corpus}.parquet"
        ),
        tokenizer="results/models/{model}/base",
    output:
        blocks="results/corpus/blocks/{model}/{corpus}.parquet",
        stats="results/corpus/blocks/{model}/{corpus}.stats.json",
    log:
        "results/logs/corpus_blocks/{model}/{corpus}.log",
    benchmark:
        "results/benchmarks/corpus_blocks/{model}/{corpus}.tsv"
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("corpus_blocks")
    resources:
        **job_resources("corpus_blocks"),
    params:
        code=code("pipeline.corpus.blocks"),
        settings=stage_settings_json("corpus_blocks"),
    shell:
        "python -m pipeline.corpus.blocks --corpus {input.corpus:q} --tokenizer {input.tokenizer:q}"
        " --tokenizer-name {wildcards.model:q}"
        " --settings {params.settings:q} --output {output.blocks:q} --stats {output.stats:q} > {log:q} 2>&1"


rule corpus_stats:
    """Corpus statistics per source and language (PARCOMED Table 1 layout), tokens per tokenizer."""
    input:
        reports=expand(
            "results/corpus/{corpus}.report.json", corpus=config["corpus"]["corpora"]
        ),
        blocks=lambda wc: expand(
            "results/corpus/blocks/{model}/{corpus}.stats.json",
            model=GRID.models,
            corpus=sorted(
                {GRID.arms[a].spec["corpus"] for a in GRID.arms_with("cpt")}
            ),
        ),
    output:
        table="results/corpus/stats.md",
        data="results/corpus/stats.parquet",
    log:
        "results/logs/corpus_stats.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("corpus_stats")
    resources:
        **job_resources("corpus_stats"),
    params:
        code=code("pipeline.corpus.stats"),
    shell:
        "(python -m pipeline.corpus.stats --reports {input.reports:q} --blocks-stats {input.blocks:q}"
        " --output {output.table:q} && python -m pipeline.corpus.stats --reports {input.reports:q}"
        " --blocks-stats {input.blocks:q} --output {output.data:q}) > {log:q} 2>&1"
