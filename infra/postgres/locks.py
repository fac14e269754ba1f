"""PostgreSQL's lock files after a crash: ``postmaster.pid`` in the data directory and
``.s.PGSQL.<port>.lock`` beside the socket, each naming the postmaster's PID on its first line.

PostgreSQL removes a lock file itself when the PID in it is dead — but a SIGKILLed postmaster
that its parent has not reaped is a zombie, whose PID still answers ``kill(pid, 0)``: the
supervisor reaps it first, then leaves the files to PostgreSQL. The one case PostgreSQL cannot
decide is a PID reused since by another process: that file is removed here, and only when the
process holding the PID is provably not a server of this data directory (a postmaster and its
children run with the data directory as their working directory).
"""

from __future__ import annotations

import os
from pathlib import Path

from infra.local import proc


def lock_pid(path: Path) -> int | None:
    """The PID a lock file names, or None (no file, or not written to the end)."""
    try:
        first = path.read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return int(first) if first.lstrip("-").isdigit() else None


def serves(pid: int, data: Path) -> bool:
    """Is ``pid`` a live process of the cluster in ``data`` (its working directory)?"""
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve() == data.resolve()
    except OSError:
        return False  # gone, a zombie (no cwd), or not ours to look at


def clear_stale(data: Path, lock_files: list[Path]) -> list[Path]:
    """Before a start: refuse if a server of ``data`` still runs; remove a lock file whose PID
    now belongs to another process; leave a dead PID's file to PostgreSQL. Returns the files
    removed."""
    removed = []
    for path in lock_files:
        pid = lock_pid(path)
        if pid is None or pid <= 0 or not proc.pid_alive(pid):
            continue  # absent, or a dead PID: PostgreSQL itself replaces it
        if serves(pid, data):
            raise RuntimeError(f"{path} names pid {pid}, a running server of {data}")
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
