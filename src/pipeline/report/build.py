"""Build every section of the report from the inputs, and the statement of the grid it was built from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.report.context import Context
from pipeline.report.document import Section
from pipeline.report.figures import paper_style
from pipeline.report.inputs import Inputs
from pipeline.report.sections.cost import cost_sections
from pipeline.report.sections.datadiff import datadiff_sections
from pipeline.report.sections.datasize import datasize_sections
from pipeline.report.sections.knowledge import knowledge_sections
from pipeline.report.sections.language import language_sections
from pipeline.report.sections.modelsize import modelsize_sections
from pipeline.report.sections.progression import progression_sections
from pipeline.report.sections.published import published_sections
from pipeline.report.sections.ranks import rank_sections
from pipeline.report.sections.stability import stability_sections
from pipeline.report.sections.task import task_sections
from pipeline.report.sections.training import training_sections
from pipeline.report.settings import ReportSettings, resolve_settings

BUILDERS = (
    task_sections,
    datasize_sections,
    datadiff_sections,
    modelsize_sections,
    language_sections,
    cost_sections,
    training_sections,
    progression_sections,
    knowledge_sections,
    rank_sections,
    stability_sections,
    published_sections,
)


def grid_statement(ctx: Context, config_hash: str | None = None) -> list[str]:
    """What the report was built from: models, arms, cells, counts, config hash."""
    cells = ctx.cells()
    lines = [
        f"Built from {ctx.inputs.summary.height} summary rows ({ctx.main.height} main-metric cell scores): "
        f"{len(ctx.models)} models × {len(ctx.arms)} arms × {len(cells)} cells "
        f"({len(ctx.tasks)} tasks, {len(ctx.languages)} languages).",
        f"Models: {', '.join(ctx.models)}.",
        f"Arms: {', '.join(ctx.arms)}.",
        f"Tasks: {', '.join(ctx.tasks)}; languages: {', '.join(ctx.languages)}.",
        f"Cells: {', '.join('/'.join(c) for c in cells)}.",
    ]
    absent = sorted(set(ctx.inputs.grid.arms) - set(ctx.arms))
    if absent:
        lines.append(f"Arms of the grid without scores: {', '.join(absent)}.")
    if config_hash:
        lines.append(f"Config hash: {config_hash}.")
    return lines


def build_report(
    inputs: Inputs, settings: Mapping[str, Any] | ReportSettings, config_hash: str | None = None
) -> tuple[list[Section], list[str]]:
    """(sections, grid statement) of the report; the statement names `config_hash` when given."""
    ctx = Context(inputs, resolve_settings(settings))
    with paper_style():
        sections = [section for builder in BUILDERS for section in builder(ctx)]
    return sections, grid_statement(ctx, config_hash)
