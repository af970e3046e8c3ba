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


def recorded_changes(sums: dict[str, str], record: Path | None, ignore: set[str]) -> list[str]:
    """Differences between `sums` and the first fetch's record (paths in `ignore` left aside)."""
    if record is None or not record.exists():
        return []
    recorded = manifest.parse(record.read_text(encoding="utf-8"), str(record))

    def kept(checksums: dict[str, str]) -> dict[str, str]:
        return {path: sha for path, sha in checksums.items() if path not in ignore}

    return manifest.differences(kept(recorded), kept(sums))


def verify(
    source: Source, sums: dict[str, str], record: Path | None, exported: set[str] | None = None
) -> None:
    """Fail when `sums` differ from the first fetch's record or (once `exported` is None: the whole
    source) from the registry's `manifest:` pin. The download is checked before `export:` parses it."""
    changes = recorded_changes(sums, record, exported or set())
    where = f"data source {source.name!r} ({source.origin} @ {source.revision})"
    if changes:
        raise ChecksumMismatch(
            f"{where} differs from the checksums recorded at its first fetch ({record}); the upstream "
            "changed or the download is corrupt:"
            + "".join(f"\n  {line}" for line in changes[:50])
            + f"\n(delete {record} to accept the new files on purpose)"
        )
    pinned = source.spec.get("manifest")
    actual = manifest.digest(manifest.render(sums))
    if exported is None and pinned and actual != pinned:
        raise ChecksumMismatch(
            f"{where}: manifest sha256 {actual} differs from the pinned `manifest: {pinned}`"
        )


def fetch(source: Source, folder: Path, manifest_path: Path, records: Path | None = None) -> str:
    """Fetch `source` into `folder`, write its manifest; returns the manifest's digest."""
    if source.restricted:
        raise ValueError(source.missing_message())
    record = records / f"{source.name}.sha256" if records else None
    exports = source.spec.get("export", [])
    with atomic_dir(folder) as tmp:
        log.info("fetching %s from %s @ %s", source.name, source.origin, source.revision)
        FETCHERS[source.kind](source.spec, tmp)
        unpack(tmp, source.spec.get("unpack", []))
        if exports:
            verify(source, manifest.checksums(tmp), record, exported={item["to"] for item in exports})
            export(tmp, exports)
        sums = manifest.checksums(tmp)
        verify(source, sums, record)
    text = manifest.render(sums)
    write_text(manifest_path, text)
    digest = manifest.digest(text)
    if record is not None and not record.exists():
        write_text(record, text)
        if not source.spec.get("manifest"):
            log.warning("%s: unpinned; pin this content in the registry: `manifest: %s`", source.name, digest)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    log.info("%s: %d files, %.1f MB, manifest sha256 %s", source.name, len(sums), size / 1e6, digest)
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
