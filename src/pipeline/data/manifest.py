"""Checksum manifests: the sha256 of every file of a fetched source, in `sha256sum` format.

A manifest lists `<sha256>  <path>` lines sorted by path (paths relative to the source folder), so
`cd data/NAME && sha256sum -c ../NAME.sha256` verifies a copy by hand. Its own sha256 (the digest)
pins a source in a registry (`manifest:`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipeline.io import file_sha256


def checksums(folder: Path) -> dict[str, str]:
    """{relative POSIX path: sha256} of every file under `folder`."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in files}


def render(sums: dict[str, str]) -> str:
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(sums.items()))


def parse(text: str, where: str) -> dict[str, str]:
    """A manifest's {path: sha256}; a malformed line is an error naming `where` and the line."""
    sums = {}
    for n, line in enumerate(text.splitlines(), 1):
        sha, sep, path = line.partition("  ")
        if not sep or len(sha) != 64 or not path:
            raise ValueError(f"{where}:{n}: not a '<sha256>  <path>' line: {line!r}")
        sums[path] = sha
    return sums


def digest(text: str) -> str:
    """The sha256 of a manifest's text: one value that pins every file of a source."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Human-readable differences between two manifests (empty when equal)."""
    lines = [f"missing: {p}" for p in sorted(set(expected) - set(actual))]
    lines += [f"new: {p}" for p in sorted(set(actual) - set(expected))]
    lines += [
        f"changed: {p} (sha256 {expected[p][:12]}… → {actual[p][:12]}…)"
        for p in sorted(set(expected) & set(actual))
        if expected[p] != actual[p]
    ]
    return lines
