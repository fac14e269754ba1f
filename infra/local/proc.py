"""Child processes with their own session, a log file, and a bounded stop."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Re-exported: one definition of "is this PID alive" and "is it that process", the kit's.
from shared.supervision import pid_alive as pid_alive
from shared.supervision import same_process as same_process
from shared.supervision import start_time as start_time


def spawn(
    argv: Sequence[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **kwargs: Any,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session so a terminal's Ctrl-C reaches only the supervisor,
    which then stops children in order."""
    log.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a log in a folder another user can write must never be a planted link.
    out = os.fdopen(
        os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644), "ab"
    )
    try:
        return subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            **kwargs,
        )
    finally:
        out.close()


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout``; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return proc.returncode


def signal_recorded(pid: int, started: int | None, sig: int) -> bool:
    """Send ``sig`` to ``pid`` only if it is still the process recorded with start time
    ``started`` (a status file can outlive its processes: a reboot, a SIGKILLed supervisor,
    and the PID is another program's). The check and the signal go through one pidfd, so the
    PID cannot be reused between them. Returns whether it was sent."""
    try:
        fd = os.pidfd_open(pid)
    except (ProcessLookupError, ValueError, OverflowError):
        return False
    try:
        if started is None or start_time(pid) != started:
            return False
        signal.pidfd_send_signal(fd, sig)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(fd)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: the crash a test wants."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])
