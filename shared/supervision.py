"""What the local runner's supervisor (``./fanout up``) says about the processes it keeps
running — broker node(s), PostgreSQL, the services: state and restarts, from its status file
(FANOUT_SUPERVISOR_STATUS, set for every process it starts). Under compose there is none:
compose restarts containers itself, and this answers None."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# Beside the status file: the overview's scenario requests (the services' account writes them)
# and their runs (the supervisor's: narration and exit code; infra/local/scenario_runs.py).
SCENARIO_REQUESTS, SCENARIO_RUNS = "scenario-requests", "scenario-runs"
SHOWN = ("state", "restarts", "last_exit", "last_error", "retry_at", "last_down_s")


def pid_alive(pid: int) -> bool:
    """Is ``pid`` a live process (one we may not signal counts as live)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot (/proc/<pid>/stat field 22); None when
    no such process. A PID is reused after an exit or a reboot; (PID, start time) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count after its last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[19])  # field 22 of the whole line is the 20th after the name


def same_process(pid: int | None, started: int | None) -> bool:
    """Is ``pid`` still the very process that was recorded with start time ``started``?"""
    return bool(pid) and started is not None and start_time(int(pid or 0)) == started


def supervision(path: str | None) -> dict[str, Any] | None:
    """``{"infra": {name: view}, "services": {name: view}, "gave_up": [names]}``, or None
    when no supervisor runs. A file being replaced or unreadable reads as None too."""
    if not path:
        return None
    try:
        status = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not same_process(status.get("pid"), status.get("pid_start")) or "infra" not in status:
        return None
    out: dict[str, Any] = {"infra": {}, "services": {}}
    for part in ("infra", "services"):
        for name, view in status.get(part, {}).items():
            out[part][name] = {k: view.get(k) for k in SHOWN}
    every = {**out["infra"], **out["services"]}
    out["gave_up"] = sorted(n for n, v in every.items() if v["state"] == "gave up")
    out["down"] = sorted(n for n, v in every.items() if v["state"] != "up")
    return out


def infra_states(path: str | None) -> dict[str, str] | None:
    """``{"kafka": "up", "postgres": "down"}``: for /health."""
    view = supervision(path)
    return None if view is None else {n: v["state"] for n, v in view["infra"].items()}
