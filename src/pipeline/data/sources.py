"""A registry's data sources: where each dataset's files come from, and which restricted ones are here.

A registry file may hold, beside `datasets:`, a `sources:` mapping (schema:
workflow/schemas/source.schema.yaml). A public source `NAME` (git, hf or url) is fetched by the
workflow into `data/NAME/` with its checksum manifest `data/NAME.sha256`; a restricted source lies
under `data/restricted/NAME/`, placed there by the user. A dataset (or trace) path names its source
by where it lies: `data/NAME/...` or `data/restricted/NAME/...`. DAG-time code: no heavy imports.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

DATA_ROOT = "data"
RESTRICTED = "restricted"
KINDS = ("git", "hf", "url", "restricted")
DOCS_ONLY = ("licence", "size", "description")  # editing these never refetches


@dataclass(frozen=True)
class Source:
    name: str
    spec: dict[str, Any]

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if k in self.spec)

    @property
    def fetch_spec(self) -> dict[str, Any]:
        """What the fetch depends on: the spec without its documentation keys."""
        return {k: v for k, v in self.spec.items() if k not in DOCS_ONLY}

    @property
    def restricted(self) -> bool:
        return self.kind == RESTRICTED

    @property
    def folder(self) -> str:
        """Where the source's files lie, relative to the working directory."""
        return f"{DATA_ROOT}/{RESTRICTED}/{self.name}" if self.restricted else f"{DATA_ROOT}/{self.name}"

    @property
    def manifest(self) -> str:
        """The fetch's file target: the sha256 of every fetched file (public sources)."""
        return f"{DATA_ROOT}/{self.name}.sha256"

    @property
    def revision(self) -> str:
        return self.spec.get("commit") or self.spec.get("revision") or self.spec.get("sha256") or "-"

    @property
    def origin(self) -> str:
        return self.spec.get(self.kind) if not self.restricted else self.spec[RESTRICTED]["apply"]

    def missing_message(self) -> str:
        """What a user must do to obtain a restricted source."""
        info = self.spec[RESTRICTED]
        return (
            f"restricted data source {self.name!r} is not at {self.folder}/: apply for access at "
            f"{info['apply']}, then place the files under {self.folder}/ as: {info['layout']} "
            "(docs/datasets.md)"
        )


def load_sources(entries: dict[str, Any] | None) -> dict[str, Source]:
    """Sources by name from a registry's (schema-valid) `sources:` mapping."""
    if RESTRICTED in (entries or {}):
        raise ValueError(f"sources: {RESTRICTED!r} is reserved (data/{RESTRICTED}/ holds restricted sources)")
    return {name: Source(name, dict(spec)) for name, spec in (entries or {}).items()}


def source_of(path: str, sources: dict[str, Source], where: str, strict: bool = True) -> Source | None:
    """The source a `data/...` path lies in; None for paths outside `data/` (development samples,
    generated data). A `data/` path of an undeclared source is an error naming `where` (`strict`)
    or None (data the user provides, such as corpora)."""
    parts = PurePosixPath(path).parts
    if not parts or parts[0] != DATA_ROOT or len(parts) < 2:
        return None
    restricted = parts[1] == RESTRICTED
    if restricted and len(parts) < 3:
        raise ValueError(f"{where}: path {path!r} names no source under {DATA_ROOT}/{RESTRICTED}/")
    name = parts[2] if restricted else parts[1]
    source = sources.get(name)
    if (source is None or source.restricted != restricted) and not strict:
        return None
    if source is None or source.restricted != restricted:
        kind = "restricted" if restricted else "public (git, hf or url)"
        raise ValueError(
            f"{where}: path {path!r} lies in data source {name!r}, which the registry's `sources:` "
            f"does not declare as {kind}"
        )
    return source


def paths_of(path: str | dict[str, str]) -> dict[str | None, str]:
    """A registry `path` as {language (None: all): path}."""
    return dict(path) if isinstance(path, dict) else {None: path}


def fetch_targets(
    path: str | dict[str, str], sources: dict[str, Source], where: str, strict: bool = True
) -> list[str]:
    """The manifests (fetch targets) of the public sources a dataset or trace path lies in."""
    found = (source_of(p, sources, where, strict) for p in paths_of(path).values())
    return sorted({s.manifest for s in found if s is not None and not s.restricted})


def present(path: Path) -> bool:
    """Restricted data is present when its path is a file or a folder holding at least one file."""
    return path.is_file() or (path.is_dir() and any(p.is_file() for p in path.rglob("*")))


def available_entries(
    entries: dict[str, Any], sources: dict[str, Source], workdir: Path
) -> tuple[dict[str, Any], dict[str, str]]:
    """Registry entries without the languages whose restricted source is absent from `workdir`.

    Returns (kept entries, {"dataset" or "dataset/lang": message}); a dataset left with no
    language is dropped whole.
    """
    kept: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for name, entry in entries.items():
        by_language = paths_of(entry["path"])
        absent = {}
        for language, path in by_language.items():
            source = source_of(path, sources, f"datasets.{name}.path")
            if source is not None and source.restricted and not present(workdir / path):
                absent[language] = source.missing_message()
        if not absent:
            kept[name] = entry
            continue
        if None in absent:
            missing[name] = absent[None]
            continue
        languages = [lang for lang in entry["languages"] if lang not in absent]
        missing.update({f"{name}/{lang}": message for lang, message in absent.items()})
        if languages:
            pruned = copy.deepcopy(entry)
            pruned["languages"] = languages
            pruned["path"] = {lang: p for lang, p in by_language.items() if lang not in absent}
            kept[name] = pruned
    return kept, missing
