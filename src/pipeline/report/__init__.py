"""The report: `results/summary.parquet` and the grid's side files → paper tables and figures.

Imports neither torch nor transformers. Entry point: ``python -m pipeline.report`` (see
`pipeline.report.__main__`) or `pipeline.report.build.build_report` + `pipeline.report.document.write_report`.
"""
