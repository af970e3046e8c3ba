"""Training processes that cannot outlive the job that started them.

torchrun starts each worker in a session of its own, so killing Snakemake's process group (a
`kill -9`, a cancelled SLURM job step) would leave the workers training and later publishing into a
folder Snakemake no longer owns, racing a rerun on the same state folder. Each process of a launch
asks the kernel (Linux `prctl(PR_SET_PDEATHSIG)`) for a signal when its parent dies: the launcher
when the job's shell dies, each worker when its torchrun agent dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Have the kernel send `sig` to this process when its parent exits; True where supported (Linux).

    A parent that died before the request took effect is caught too: the process signals itself.
    """
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # orphaned already: re-parented before the request
        os.kill(os.getpid(), sig)
    return True


def main(argv: list[str] | None = None) -> None:
    """`python -m pipeline.train.lifetime MODULE ARGS...`: run `python -m MODULE ARGS...` in this
    process (same pid, same parent) after asking for SIGTERM when the parent dies."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: python -m pipeline.train.lifetime MODULE [ARGS...]")
    die_with_parent()
    os.execv(sys.executable, [sys.executable, "-m", *argv])


if __name__ == "__main__":
    main()
