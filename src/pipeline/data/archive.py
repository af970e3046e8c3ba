"""Archives: an archive by URL checked against its pinned sha256, and zip/tar extraction."""

from __future__ import annotations

import shutil
import tarfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

from pipeline.io import file_sha256

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def extract(archive: Path, into: Path) -> None:
    """Extract a zip or tar archive into `into`; members may not escape it."""
    into.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            root = into.resolve()
            for member in zf.namelist():
                if not (into / member).resolve().is_relative_to(root):
                    raise ValueError(f"{archive}: member {member!r} would land outside {into}")
            zf.extractall(into)
    elif archive.name.endswith(TAR_SUFFIXES):
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")
    else:
        raise ValueError(f"{archive}: not a zip or tar archive ({', '.join(('.zip', *TAR_SUFFIXES))})")


def unpack(folder: Path, archives: list[str]) -> None:
    """Extract archives of a fetched source beside themselves (`unpack:` of a git or hf source)."""
    for name in archives:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"unpack: no archive {name!r} in the fetched source")
        extract(path, path.parent)


def fetch_url(spec: dict[str, Any], folder: Path) -> None:
    """Download `spec["url"]`, check its sha256 against `spec["sha256"]`, extract it into `folder`."""
    url, expected = spec["url"], spec["sha256"]
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.request.url2pathname(url.rsplit("/", 1)[-1].split("?")[0])).name or "download"
    download = folder.parent / f".{folder.name}.{name}"
    try:
        with urllib.request.urlopen(url) as response, open(download, "wb") as out:
            shutil.copyfileobj(response, out)
        actual = file_sha256(download)
        if actual != expected:
            raise ValueError(
                f"archive {url}: sha256 {actual} differs from the pinned {expected} "
                "(upstream changed or the download is corrupt; nothing was extracted)"
            )
        extract(download, folder)
    finally:
        download.unlink(missing_ok=True)
