CELLS = ["/".join(cell) for cell in GRID.cells()]
LOGLIK_CELLS = ["/".join(cell) for cell in GRID.loglik_cells()]
GENERATION_ENV = "../envs/vllm.yaml" if config["generation"]["backend"] == "vllm" else "../envs/training.yaml"


def generation_settings(wildcards):
    arm = GRID.arms[wildcards.arm]
    return canonical_json(
        {
            **config["generation"],
            "style": arm.eval_style,
            "model": wildcards.model,
            "arm": wildcards.arm,
        }
    )


rule generate:
    """Load one model once and answer the test examples of every cell."""
    input:
        code=code(
            "evaluate/generate.py",
            "evaluate/backends.py",
            "evaluate/cache.py",
            "tasks/prompts.py",
            "tasks/templates.py",
            "tasks/answers.py",
            "train/chat.py",
        ),
        model="results/models/{model}/{arm}",
        tasks=task_files(GRID.eval_datasets),
    output:
        predictions=expand("results/predictions/{{model}}/{{arm}}/{cell}.jsonl", cell=CELLS),
        throughput="results/predictions/{model}/{arm}/throughput.json",
    params:
        settings=generation_settings,
        cells=CELLS,
        out_dir="results/predictions/{model}/{arm}",
    threads: job_threads("generate")
    resources:
        **job_resources("generate"),
    benchmark:
        "results/benchmarks/generate/{model}/{arm}.tsv"
    log:
        "results/logs/generate/{model}/{arm}.log",
    conda:
        GENERATION_ENV
    shell:
        "{PY} pipeline.evaluate.generate --model {input.model} --tasks {input.tasks} --cells {params.cells}"
        " --output-dir {params.out_dir} --throughput {output.throughput}"
        " --cache results/cache/completions.sqlite --settings {params.settings:q} > {log} 2>&1"


rule score:
    """Parse predictions and score every cell of one model × arm (no torch imported)."""
    input:
        code=code("evaluate/parse.py", "evaluate/metrics.py", "evaluate/stats.py", "evaluate/score.py"),
        predictions=expand("results/predictions/{{model}}/{{arm}}/{cell}.jsonl", cell=CELLS),
    output:
        expand("results/scores/{{model}}/{{arm}}/{cell}.json", cell=CELLS),
    params:
        settings=canonical_json({"seed": config["seed"], **config["scoring"]}),
    threads: job_threads("score")
    resources:
        **job_resources("score"),
    log:
        "results/logs/score/{model}/{arm}.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "{PY} pipeline.evaluate.score --predictions {input.predictions} --outputs {output}"
        " --settings {params.settings:q} > {log} 2>&1"


rule loglik:
    """Log-likelihood multiple-choice scoring (lm-evaluation-harness semantics), k-shot."""
    input:
        code=code("evaluate/loglik.py", "evaluate/loglik_cells.py", "evaluate/stats.py"),
        model="results/models/{model}/{arm}",
        tasks=task_files(GRID.loglik_datasets),
    output:
        per_item=expand("results/loglik/{{model}}/{{arm}}/{cell}.jsonl", cell=LOGLIK_CELLS),
        scores=expand("results/loglik/{{model}}/{{arm}}/{cell}.json", cell=LOGLIK_CELLS),
    params:
        cells=LOGLIK_CELLS,
        settings=lambda wc: canonical_json(
            {
                **config["loglik"].get("settings", {}),
                "model": wc.model,
                "arm": wc.arm,
                "seed": config["seed"],
            }
        ),
        out_dir="results/loglik/{model}/{arm}",
    threads: job_threads("loglik")
    resources:
        **job_resources("loglik"),
    benchmark:
        "results/benchmarks/loglik/{model}/{arm}.tsv"
    log:
        "results/logs/loglik/{model}/{arm}.log",
    conda:
        GENERATION_ENV
    shell:
        "{PY} pipeline.evaluate.loglik_cells --model {input.model} --tasks {input.tasks} --cells {params.cells}"
        " --items-dir {params.out_dir} --scores-dir {params.out_dir} --settings {params.settings:q} > {log} 2>&1"


def summary_scores(wildcards):
    scores = expand("results/scores/{model}/{arm}/{cell}.json", model=GRID.models, arm=GRID.arms, cell=CELLS)
    scores += expand(
        "results/loglik/{model}/{arm}/{cell}.json", model=GRID.models, arm=GRID.loglik_arms, cell=LOGLIK_CELLS
    )
    return scores


rule summary:
    """One table of every score: model × arm × dataset × language × task × sub-task × metric."""
    input:
        code=code("summary.py"),
        scores=summary_scores,
    output:
        "results/summary.parquet",
    params:
        models=canonical_json(config["models"]),
    threads: job_threads("summary")
    resources:
        **job_resources("summary"),
    log:
        "results/logs/summary.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "{PY} pipeline.summary --scores {input.scores} --models {params.models:q} --output {output} > {log} 2>&1"
