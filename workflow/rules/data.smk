# The data stage: every public source a dataset or trace path lies in (data/<source>/...) is fetched
# at its pin and checksummed; restricted sources absent from data/restricted/ leave the grid, named.

from snakemake.logging import logger


localrules:
    fetch_data,
    fetch_all_data,


if GRID.unavailable:
    logger.warning(
        "Restricted datasets not present are left out of this grid "
        f"(missing_restricted: skip; docs/datasets.md):\n{GRID.missing_report()}"
    )


rule fetch_data:
    """Fetch one public data source at its pinned revision and checksum every file (manifest)."""
    output:
        folder=directory("data/{data_source}"),
        manifest="data/{data_source}.sha256",
    log:
        "results/logs/fetch_data/{data_source}.log",
    conda:
        "../envs/data.yaml"
    params:
        spec=lambda wc: canonical_json(GRID.sources[wc.data_source].fetch_spec),
        records="data/.records",
    shell:
        "python -m pipeline.data.fetch --name {wildcards.data_source:q} --spec {params.spec:q}"
        " --folder {output.folder:q} --manifest {output.manifest:q}"
        " --records {params.records:q} > {log:q} 2>&1"


rule fetch_all_data:
    """Every public data source of the grid, fetched and verified (no training, no evaluation)."""
    input:
        [GRID.sources[name].manifest for name in GRID.fetched_sources],
