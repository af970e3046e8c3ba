rule extract_tasks:
    """Read one dataset from its native format into uniform task examples (all splits)."""
    input:
        data=lambda wc: data_inputs(GRID.registry[wc.dataset].path),
        fetched=lambda wc: GRID.data_targets(wc.dataset),
    output:
        "results/tasks/{dataset}.jsonl",
    log:
        "results/logs/extract_tasks/{dataset}.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("extract_tasks")
    resources:
        **job_resources("extract_tasks"),
    params:
        code=lambda wc: code(
            "pipeline.tasks.extract", GRID.registry[wc.dataset].reader_module
        ),
        spec=lambda wc: canonical_json(GRID.registry_entries[wc.dataset]),
        settings=stage_settings_json("extract"),
    shell:
        "python -m pipeline.tasks.extract --name {wildcards.dataset:q} --spec {params.spec:q}"
        " --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


rule extract_traces:
    """Reasoning traces (question, reasoning, answer) from their native format."""
    input:
        data=lambda wc: data_inputs(config["traces"][wc.traces]["path"]),
        fetched=lambda wc: GRID.trace_targets(wc.traces),
    output:
        "results/traces/{traces}.jsonl",
    log:
        "results/logs/extract_traces/{traces}.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("extract_traces")
    resources:
        **job_resources("extract_traces"),
    params:
        code=code("pipeline.tasks.traces"),
        settings=stage_settings_json("traces"),
    shell:
        "python -m pipeline.tasks.traces --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


checkpoint build_mix:
    """A training mix (IT: instruction → JSON; RoT: question → reasoning → conclusion), without
    records that share a long n-gram with any evaluation test example (counted in its report).
    A checkpoint: a rebuilt mix with the same records (an edit to a test set that removes nothing
    new) reruns no training.
    """
    input:
        tasks=task_files(GRID.eval_datasets),
        test_tasks=task_files(),
        traces=lambda wc: [
            f"results/traces/{t}.jsonl"
            for t in config["mixes"][wc.mix].get("traces", [])
        ],
    output:
        mix=TRAINING_DATA_FILES["mix"],
        stats="results/mixes/{mix}.stats.json",
        contamination="results/mixes/{mix}.contamination.json",
    log:
        "results/logs/build_mix/{mix}.log",
    conda:
        "../envs/pipeline.yaml"
    threads: job_threads("build_mix")
    resources:
        **job_resources("build_mix"),
    params:
        code=code("pipeline.tasks.mix"),
        kind=lambda wc: config["mixes"][wc.mix]["kind"],
        settings=stage_settings_json("mix"),
        traces=lambda wc, input: ["--traces", *input.traces] if input.traces else [],
    shell:
        "python -m pipeline.tasks.mix --kind {params.kind:q} --tasks {input.tasks:q} {params.traces:q}"
        " --test-tasks {input.test_tasks:q} --settings {params.settings:q} --output {output.mix:q}"
        " --stats {output.stats:q} --contamination {output.contamination:q} > {log:q} 2>&1"
