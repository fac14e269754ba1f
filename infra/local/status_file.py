"""The supervisor's status file (``supervisor.json`` beside its requests): written whole, read
with a stale file told from a live one (PID and start time), and what it names signalled only
while it is still that process. Read by `status`, `down`, `restart` and the scenarios."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from infra.local import proc


def write_atomically(path: Path, text: str) -> None:
    """Readers (``up -d``, ``status``, ``down``) poll this file: they must never see it half
    written. A rename within one folder replaces it in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def held_path(home: Path, name: str) -> Path:
    """While this file exists the supervisor does not restart ``name``."""
    return home / "held" / name


def read_status(home: Path) -> dict | None:
    """The running supervisor's status, or None when none runs. A stale file — its PID dead,
    or now another process (a reboot, a SIGKILLed supervisor: PIDs are reused) — is removed,
    and said so on stderr: nothing it names is ever signalled."""
    path = home / "supervisor.json"
    if not path.exists():
        return None
    status = json.loads(path.read_text())
    pid, started = int(status.get("pid") or 0), status.get("pid_start")
    if not proc.same_process(pid, started):
        with contextlib.suppress(PermissionError):  # a reader that may not (a scenario)
            path.unlink(missing_ok=True)
        why = "no longer runs" if not proc.pid_alive(pid) else "is now another process"
        print(
            f"fanout: cleared a stale status file {path}: its supervisor (pid {pid}) {why}; "
            "nothing it names was signalled",
            file=sys.stderr,
        )
        return None
    return status


def signal_named(entry: dict, sig: int) -> bool:
    """Signal the process a status entry names, only if it is still that process."""
    pid = entry.get("pid")
    return isinstance(pid, int) and proc.signal_recorded(pid, entry.get("pid_start"), sig)
