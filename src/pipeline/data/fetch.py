"""Stage: fetch one public data source at its pin, checksum every file, verify against the pins.

    python -m pipeline.data.fetch --name NAME --spec JSON --folder data/NAME \\
        --manifest data/NAME.sha256 [--records data/.records]

`--spec` is the registry's `sources.NAME` entry. The source is fetched into a temporary folder
beside `--folder` (git: the commit; hf: the revision, then `export:`; url: the archive, checked
against `sha256`), `unpack:` archives are extracted, and every file's sha256 goes into the
manifest. Two pins guard against a changed upstream, and either mismatch is an error that leaves
nothing behind: the registry's `manifest:` (the manifest's sha256), and the record of the first
fetch kept in `--records` (delete `RECORDS/NAME.sha256` to accept a new upstream on purpose).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from pipeline.data import manifest
from pipeline.data.archive import fetch_url, unpack
from pipeline.data.git import fetch_git
from pipeline.data.hf import export, fetch_hf
from pipeline.data.sources import Source
from pipeline.io import atomic_dir, write_text

log = logging.getLogger("pipeline.data.fetch")
FETCHERS = {"git": fetch_git, "hf": fetch_hf, "url": fetch_url}


class ChecksumMismatch(ValueError):
    """A fetched source differs from its pinned or recorded checksums."""


def verify(source: Source, text: str, record: Path | None) -> None:
    """Fail when the manifest `text` differs from the registry pin or from the recorded manifest."""
    sums = manifest.parse(text, f"manifest of {source.name}")
    recorded = None
    if record is not None and record.exists():
        recorded = manifest.parse(record.read_text(encoding="utf-8"), str(record))
    changes = manifest.differences(recorded, sums) if recorded is not None else []
    pinned = source.spec.get("manifest")
    if pinned and manifest.digest(text) != pinned:
        raise ChecksumMismatch(
            f"data source {source.name!r} ({source.origin} @ {source.revision}): manifest sha256 "
            f"{manifest.digest(text)} differs from the pinned `manifest: {pinned}`"
            + ("".join(f"\n  {line}" for line in changes[:50]) if changes else "")
        )
    if changes:
        raise ChecksumMismatch(
            f"data source {source.name!r} ({source.origin} @ {source.revision}) differs from the checksums "
            f"recorded at its first fetch ({record}); the upstream changed or the download is corrupt:"
            + "".join(f"\n  {line}" for line in changes[:50])
            + f"\n(delete {record} to accept the new files on purpose)"
        )


def fetch(source: Source, folder: Path, manifest_path: Path, records: Path | None = None) -> str:
    """Fetch `source` into `folder`, write its manifest; returns the manifest's digest."""
    if source.restricted:
        raise ValueError(source.missing_message())
    record = records / f"{source.name}.sha256" if records else None
    with atomic_dir(folder) as tmp:
        log.info("fetching %s from %s @ %s", source.name, source.origin, source.revision)
        FETCHERS[source.kind](source.spec, tmp)
        unpack(tmp, source.spec.get("unpack", []))
        if source.kind == "hf":
            export(tmp, source.spec.get("export", []))
        text = manifest.render(manifest.checksums(tmp))
        verify(source, text, record)
    write_text(manifest_path, text)
    digest = manifest.digest(text)
    if record is not None and not record.exists():
        write_text(record, text)
        if not source.spec.get("manifest"):
            log.warning("%s: unpinned; pin this content in the registry: `manifest: %s`", source.name, digest)
    log.info("%s: %d files, manifest sha256 %s", source.name, len(text.splitlines()), digest)
    return digest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--spec", required=True, help="the registry's sources entry, as JSON")
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--records", type=Path, help="where first-fetch manifests are kept and checked")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    spec: dict[str, Any] = json.loads(args.spec)
    fetch(Source(args.name, spec), args.folder, args.manifest, args.records)


if __name__ == "__main__":
    main()
