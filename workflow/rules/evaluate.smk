rule generate:
    """Load one model once and answer the test examples of one dataset's cells."""
    input:
        model="results/models/{model}/{arm}",
        tasks="results/tasks/{dataset}.jsonl",
        trained=trained_on,
    output:
        directory("results/predictions/{model}/{arm}/{dataset}"),
    log:
        "results/logs/generate/{model}/{arm}/{dataset}.log",
    benchmark:
        "results/benchmarks/generate/{model}/{arm}/{dataset}.tsv"
    wildcard_constraints:
        dataset=one_of(CELLS_OF),
    conda:
        GENERATION_ENV
    threads: job_threads("generate")
    resources:
        **job_resources("generate"),
    params:
        code=code("pipeline.evaluate.generate"),
        settings=stage_settings_json("generation"),
        cells=lambda wc: CELLS_OF[wc.dataset],
        out_dir="results/predictions/{model}/{arm}",
    shell:
        "python -m pipeline.evaluate.generate --model {input.model:q} --tasks {input.tasks:q} --cells {params.cells:q}"
        " --output-dir {params.out_dir:q} --throughput {output:q}/throughput.json"
        " --model-name {wildcards.model:q} --arm {wildcards.arm:q}"
        " --cache results/cache/completions --settings {params.settings:q} > {log:q} 2>&1"


rule score:
    """Parse predictions and score every cell of one model × arm × dataset (no torch imported)."""
    input:
        predictions="results/predictions/{model}/{arm}/{dataset}",
        trained=trained_on,
    output:
        directory("results/scores/{model}/{arm}/{dataset}"),
    log:
        "results/logs/score/{model}/{arm}/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(CELLS_OF),
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("score")
    resources:
        **job_resources("score"),
    params:
        code=code("pipeline.evaluate.score"),
        settings=stage_settings_json("score"),
    shell:
        "python -m pipeline.evaluate.score --predictions {input.predictions:q} --outputs {output:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule stability:
    """One stability dataset's k-shot multiple-choice questions asked answer-only and explain-then-answer."""
    input:
        model="results/models/{model}/{arm}",
        tasks="results/tasks/{dataset}.jsonl",
        trained=trained_on,
    output:
        predictions=directory(stability_dirs("stability_predictions")),
        throughput="results/stability_predictions/{model}/{arm}/{dataset}/throughput.json",
    log:
        "results/logs/stability/{model}/{arm}/{dataset}.log",
    benchmark:
        "results/benchmarks/stability/{model}/{arm}/{dataset}.tsv"
    wildcard_constraints:
        dataset=one_of(STABILITY_CELLS_OF),
    conda:
        GENERATION_ENV
    threads: job_threads("generate")
    resources:
        **job_resources("generate"),
    params:
        code=code("pipeline.evaluate.stability"),
        settings=stage_settings_json("stability"),
        cells=lambda wc: STABILITY_CELLS_OF[wc.dataset],
        out_dir="results/stability_predictions/{model}/{arm}",
    shell:
        "python -m pipeline.evaluate.stability --model {input.model:q} --tasks {input.tasks:q} --cells {params.cells:q}"
        " --output-dir {params.out_dir:q} --throughput {output.throughput:q}"
        " --model-name {wildcards.model:q} --arm {wildcards.arm:q}"
        " --cache results/cache/completions --settings {params.settings:q} > {log:q} 2>&1"


rule score_stability:
    """Score both styles of every stability cell of one model × arm × dataset."""
    input:
        predictions=stability_dirs("stability_predictions"),
        trained=trained_on,
    output:
        directory(stability_dirs("stability")),
    log:
        "results/logs/score_stability/{model}/{arm}/{dataset}.log",
    wildcard_constraints:
        dataset=one_of(STABILITY_CELLS_OF),
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("score")
    resources:
        **job_resources("score"),
    params:
        code=code("pipeline.evaluate.score"),
        settings=stage_settings_json("score"),
    shell:
        "python -m pipeline.evaluate.score --predictions {input.predictions:q} --outputs {output:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


rule loglik:
    """Log-likelihood multiple-choice scoring (lm-evaluation-harness semantics), k-shot, one dataset."""
    input:
        model="results/models/{model}/{arm}",
        tasks="results/tasks/{dataset}.jsonl",
        trained=trained_on,
    output:
        directory("results/loglik/{model}/{arm}/{dataset}"),
    log:
        "results/logs/loglik/{model}/{arm}/{dataset}.log",
    benchmark:
        "results/benchmarks/loglik/{model}/{arm}/{dataset}.tsv"
    wildcard_constraints:
        dataset=one_of(LOGLIK_CELLS_OF),
    conda:
        GENERATION_ENV
    threads: job_threads("loglik")
    resources:
        **job_resources("loglik"),
    params:
        code=code("pipeline.evaluate.loglik_cells"),
        cells=lambda wc: LOGLIK_CELLS_OF[wc.dataset],
        settings=stage_settings_json("loglik"),
        out_dir="results/loglik/{model}/{arm}",
    shell:
        "python -m pipeline.evaluate.loglik_cells --model {input.model:q} --tasks {input.tasks:q} --cells {params.cells:q}"
        " --model-name {wildcards.model:q} --arm {wildcards.arm:q}"
        " --items-dir {params.out_dir:q} --scores-dir {params.out_dir:q} --settings {params.settings:q} > {log:q} 2>&1"


rule lm_eval:
    """lm-evaluation-harness tasks by name on one model folder; lm-eval's results JSON kept."""
    input:
        model="results/models/{model}/{arm}",
        include=lm_eval_task_files(),
        trained=trained_on,
    output:
        results="results/lm_eval/{model}/{arm}/results.json",
        scores="results/lm_eval/{model}/{arm}/scores.json",
    log:
        "results/logs/lm_eval/{model}/{arm}.log",
    benchmark:
        "results/benchmarks/lm_eval/{model}/{arm}.tsv"
    conda:
        "../envs/training.yaml"
    threads: job_threads("lm_eval")
    resources:
        **job_resources("lm_eval"),
    params:
        code=code("pipeline.evaluate.harness"),
        settings=stage_settings_json("lm_eval"),
    shell:
        "python -m pipeline.evaluate.harness --model {input.model:q} --results {output.results:q}"
        " --model-name {wildcards.model:q} --arm {wildcards.arm:q}"
        " --scores {output.scores:q} --settings {params.settings:q} > {log:q} 2>&1"


rule summary:
    """One table of every score: model × arm × dataset × language × task × sub-task × metric."""
    input:
        unpack(summary_scores),
        trained=trained_on,
    output:
        "results/summary.parquet",
    log:
        "results/logs/summary.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("summary")
    resources:
        **job_resources("summary"),
    params:
        code=code("pipeline.summary"),
        config_hash=config_hash(config),
        settings=stage_settings_json("summary"),
        scores=SCORE_FILES,
        loglik=["--loglik-scores", *LOGLIK_SCORE_FILES] if LOGLIK_SCORE_FILES else [],
        stability=(
            ["--stability-scores", *STABILITY_SCORE_FILES]
            if STABILITY_SCORE_FILES
            else []
        ),
        lm_eval=lambda wc, input: (
            ["--lm-eval-scores", *input.lm_eval_scores] if input.lm_eval_scores else []
        ),
    shell:
        "python -m pipeline.summary --scores {params.scores:q} {params.loglik:q} {params.stability:q}"
        " {params.lm_eval:q} --settings {params.settings:q}"
        " --config-hash {params.config_hash:q} --output {output:q} > {log:q} 2>&1"
