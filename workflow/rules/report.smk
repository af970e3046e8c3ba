def trained_arms():
    return [a for a in GRID.arms if GRID.arms[a].method in ("cpt", "sft", "rpo")]


def report_inputs(wildcards):
    """Everything the report reads besides the summary: stats, logs, throughput, benchmarks."""
    cpt_corpora = {GRID.arms[a].spec["corpus"] for a in GRID.arms_with("cpt")}
    return {
        "mix_stats": [f"results/mixes/{m}.stats.json" for m in config.get("mixes", {})],
        "block_stats": expand(
            "results/corpus/blocks/{model}/{corpus}.stats.json", model=GRID.models, corpus=sorted(cpt_corpora)
        ),
        "train_logs": expand("results/train_logs/{model}/{arm}.parquet", model=GRID.models, arm=trained_arms()),
        "throughput": expand("results/predictions/{model}/{arm}/throughput.json", model=GRID.models, arm=GRID.arms),
        "benchmarks": expand("results/benchmarks/generate/{model}/{arm}.tsv", model=GRID.models, arm=GRID.arms),
        "loglik": expand(
            "results/loglik/{model}/{arm}/{cell}.jsonl",
            model=GRID.models,
            arm=GRID.loglik_arms,
            cell=LOGLIK_CELLS,
        ),
        "base_models": expand("results/models/{model}/base", model=GRID.models),
    }


REPORT_FILES = ("mix_stats", "block_stats", "train_logs", "throughput", "benchmarks", "loglik")


rule report:
    """Tables and figures for RQ1–RQ5, costs, ranks and progression, from the summary."""
    input:
        unpack(report_inputs),
        code=code("report", "evaluate/stats.py"),
        summary="results/summary.parquet",
        scores=summary_scores,
    output:
        report(
            directory("results/report"),
            patterns=["{name}.png", "{name}.md"],
            caption="../report/report.rst",
            category="Report",
        ),
    params:
        grid=canonical_json({k: config.get(k) for k in ("models", "arms", "mixes", "corpus", "training")}),
        settings=canonical_json(
            {
                "seed": config["seed"],
                "bootstrap_samples": config["scoring"]["bootstrap_samples"],
                "confidence": config["scoring"]["confidence"],
                "loglik_groups": (config.get("loglik") or {}).get("groups"),
            }
        ),
        files=lambda wc, input: " ".join(
            f"--{name.replace('_', '-')} {' '.join(input[name])}" for name in REPORT_FILES if input[name]
        ),
    threads: job_threads("report")
    resources:
        **job_resources("report"),
    log:
        "results/logs/report.log",
    conda:
        "../envs/pipeline.yaml"
    shell:
        "{PY} pipeline.report --summary {input.summary} --scores-dir results/scores --grid {params.grid:q}"
        " {params.files} --model-dirs {input.base_models}"
        " --settings {params.settings:q} --output {output} > {log} 2>&1"
