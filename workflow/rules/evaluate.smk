CELLS = ["/".join(cell) for cell in GRID.cells()]
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
    threads: 2
    resources:
        **job_resources("generate"),
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
    resources:
        **job_resources("score"),
    log:
        "results/logs/score/{model}/{arm}.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "{PY} pipeline.evaluate.score --predictions {input.predictions} --outputs {output}"
        " --settings {params.settings:q} > {log} 2>&1"


rule summary:
    """One table of every score: model × arm × dataset × language × task × sub-task × metric."""
    input:
        code=code("summary.py"),
        scores=expand("results/scores/{model}/{arm}/{cell}.json", model=GRID.models, arm=GRID.arms, cell=CELLS),
    output:
        "results/summary.parquet",
    params:
        models=canonical_json(config["models"]),
    resources:
        **job_resources("summary"),
    log:
        "results/logs/summary.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "{PY} pipeline.summary --scores {input.scores} --models {params.models:q} --output {output} > {log} 2>&1"
