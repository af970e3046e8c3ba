"""A Git repository at a pinned commit: fetched (sparse when `paths` are given), checked out, verified."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any


def _git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout.strip()


def fetch_git(spec: dict[str, Any], folder: Path) -> None:
    """Check out `spec["commit"]` of `spec["git"]` into `folder` (which must be empty), without `.git`."""
    url, commit = spec["git"], spec["commit"]
    folder.mkdir(parents=True, exist_ok=True)
    _git("init", "--quiet", cwd=folder)
    _git("remote", "add", "origin", url, cwd=folder)
    if spec.get("paths"):
        _git("sparse-checkout", "set", "--no-cone", *(f"/{p.strip('/')}" for p in spec["paths"]), cwd=folder)
    # Sparse: blobs outside `paths` are never downloaded (servers without filters send them all).
    blobs = ("--filter=blob:none",) if spec.get("paths") else ()
    try:  # servers that serve any reachable commit (GitHub does): one shallow fetch of the pin
        _git("fetch", "--quiet", *blobs, "--depth", "1", "origin", commit, cwd=folder)
    except RuntimeError:  # others: the whole history, then the pin
        refs = ("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
        _git("fetch", "--quiet", "origin", *refs, cwd=folder)
    try:
        _git("-c", "advice.detachedHead=false", "checkout", "--quiet", commit, cwd=folder)
    except RuntimeError as err:
        raise RuntimeError(f"git source {url}: commit {commit} not found upstream ({err})") from None
    head = _git("rev-parse", "HEAD", cwd=folder)
    if head != commit:
        raise RuntimeError(f"git source {url}: checked out {head}, expected the pinned commit {commit}")
    if spec.get("paths"):
        absent = [p for p in spec["paths"] if not (folder / p).exists()]
        if absent:
            raise RuntimeError(f"git source {url} @ {commit}: paths {absent} are not in the commit")
    shutil.rmtree(folder / ".git")
