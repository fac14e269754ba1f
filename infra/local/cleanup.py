"""Find and end processes a run started, even when the run itself was killed.

Every child inherits FANOUT_STACK_HOME (set by the stack's owner) in its environment,
so /proc tells us which are ours.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from infra.polling import wait_for


def processes_of(home: Path) -> list[int]:
    marker = f"FANOUT_STACK_HOME={home}".encode()
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def end_processes_of(home: Path, timeout: float = 20.0) -> list[int]:
    """SIGTERM every leftover, SIGKILL what is still alive at the deadline."""
    pids = processes_of(home)
    _signal_all(pids, signal.SIGTERM)
    try:
        wait_for(lambda: not processes_of(home), timeout=timeout, what="leftovers to exit")
    except AssertionError:
        _signal_all(processes_of(home), signal.SIGKILL)
    return pids


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it exited meanwhile: fine
            os.kill(pid, sig)
