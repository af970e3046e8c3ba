rule cpt:
    """Continual pretraining: full-parameter causal LM with DeepSpeed ZeRO, resumable."""
    input:
        model=parent_dir,
        blocks=lambda wc: f"results/corpus/blocks/{wc.model}/{GRID.arms[wc.arm].spec['corpus']}.parquet",
        trained=trained_on,
    output:
        model=directory("results/models/{model}/{arm}"),
        log="results/train_logs/{model}/{arm}.parquet",
    log:
        "results/logs/cpt/{model}/{arm}.log",
    benchmark:
        "results/benchmarks/cpt/{model}/{arm}.tsv"
    wildcard_constraints:
        arm=arm_regex("cpt"),
    conda:
        "../envs/training.yaml"
    threads: job_threads("cpt")
    resources:
        **job_resources("cpt"),
    params:
        code=code("pipeline.train.launch", "pipeline.train.cpt"),
        launcher=launcher,
        settings=stage_settings_json("cpt"),
        state="results/state/{model}/{arm}",
    shell:
        "python -m pipeline.train.launch {params.launcher:q} -- pipeline.train.cpt --model {input.model:q}"
        " --blocks {input.blocks:q} --output {output.model:q} --state-dir {params.state:q}"
        " --log {output.log:q} --settings {params.settings:q} > {log:q} 2>&1"


rule sft:
    """LoRA supervised fine-tuning on a mix (IT, CPT+IT, RoT)."""
    input:
        model=parent_dir,
        mix=training_data_input("mix", "results/models/{model}/{arm}"),
        trained=trained_on,
    output:
        model=directory("results/models/{model}/{arm}"),
        log="results/train_logs/{model}/{arm}.parquet",
    log:
        "results/logs/sft/{model}/{arm}.log",
    benchmark:
        "results/benchmarks/sft/{model}/{arm}.tsv"
    wildcard_constraints:
        arm=arm_regex("sft"),
    conda:
        "../envs/training.yaml"
    threads: job_threads("sft")
    resources:
        **job_resources("sft"),
    params:
        code=code("pipeline.train.sft"),
        settings=stage_settings_json("sft"),
    shell:
        "python -m pipeline.train.sft --model {input.model:q} --data {input.mix:q} --output {output.model:q}"
        " --log {output.log:q} --settings {params.settings:q} > {log:q} 2>&1"


rule preferences:
    """RPO preference pairs sampled from the parent (CPT) model on training questions."""
    input:
        model=parent_dir,
        tasks=task_files(PREFERENCES.get("datasets")),
        trained=trained_on,
    output:
        "results/preferences/{model}/{arm}.jsonl",
    log:
        "results/logs/preferences/{model}/{arm}.log",
    benchmark:
        "results/benchmarks/preferences/{model}/{arm}.tsv"
    wildcard_constraints:
        arm=arm_regex("rpo"),
    conda:
        "../envs/training.yaml"
    threads: job_threads("preferences")
    resources:
        **job_resources("preferences"),
    params:
        code=code("pipeline.train.preferences"),
        settings=stage_settings_json("preferences"),
    shell:
        "python -m pipeline.train.preferences --model {input.model:q} --examples {input.tasks:q}"
        " --output {output:q} --settings {params.settings:q} > {log:q} 2>&1"


rule rpo:
    """Reasoning preference optimisation: DPO + α·NLL on the preference pairs."""
    input:
        model=parent_dir,
        pairs="results/preferences/{model}/{arm}.jsonl",
        trained=trained_on,
    output:
        model=directory("results/models/{model}/{arm}"),
        log="results/train_logs/{model}/{arm}.parquet",
    log:
        "results/logs/rpo/{model}/{arm}.log",
    benchmark:
        "results/benchmarks/rpo/{model}/{arm}.tsv"
    wildcard_constraints:
        arm=arm_regex("rpo"),
    conda:
        "../envs/training.yaml"
    threads: job_threads("rpo")
    resources:
        **job_resources("rpo"),
    params:
        code=code("pipeline.train.rpo"),
        settings=stage_settings_json("rpo"),
    shell:
        "python -m pipeline.train.rpo --model {input.model:q} --pairs {input.pairs:q} --output {output.model:q}"
        " --log {output.log:q} --settings {params.settings:q} > {log:q} 2>&1"
