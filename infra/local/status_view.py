"""What the supervisor writes to its status file (``supervisor.json``; infra/local/status_file.py
writes and reads it): itself, the broker node(s), PostgreSQL and every service — PIDs with their
start times (a reader tells a live process from a later one with the same PID), restarts, and
what a scenario needs to find a service's group."""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

from infra.local import proc
from infra.local.stack import redacted

if TYPE_CHECKING:
    from infra.local.supervisor import Supervised, Supervisor


def of(sup: Supervisor) -> dict:
    now = time.monotonic()
    services = {
        name: {
            "pid": r.process.pid,
            "pid_start": proc.start_time(r.process.pid),
            "port": r.spec.web_port,
            **r.record.view(now),
            # What a scenario needs to find the service's group on the broker.
            "group": r.spec.env.get("CONSUMER_GROUP", name),
            "topic": r.spec.env.get("EVENTS_TOPIC", sup.stack.settings.topic),
            "instance_of": r.instance_of,
            "held": sup.held(name),
        }
        for name, r in sup.running.items()
    }
    members = sup.stack.kafka.members
    return {
        **_me(),
        "kafka": sup.stack.bootstrap,
        "kafka_pids": [p for n in members if (p := _pid_of(n.process))],
        # Which node is which process: a scenario kills a partition's leader by node id.
        "kafka_nodes": {str(n.node_id): p for n in members if (p := _pid_of(n.process))},
        "database": redacted(sup.stack.database_url),
        "postgres_pid": _pid(sup.infra["postgres"]) if "postgres" in sup.infra else None,
        # Where the local cluster keeps its password files (a scenario reads them as root).
        "postgres_home": str(pg.home) if (pg := sup.stack.postgres) is not None else None,
        "topic": sup.stack.settings.topic,
        "infra": {n: _component(c, now) for n, c in sup.infra.items()},
        "services": services,
    }


def starting() -> dict:
    """Written before anything runs."""
    return {**_me(), "starting": True}


def _me() -> dict[str, int | None]:
    """The supervisor as its status file names it: PID and start time, so a reader tells
    this process from a later one that got the same PID."""
    return {"pid": os.getpid(), "pid_start": proc.start_time(os.getpid())}


def _component(c: Supervised, now: float) -> dict:
    pid = _pid(c)
    return {"pid": pid, "pid_start": proc.start_time(pid) if pid else None, **c.record.view(now)}


def _pid(c: Supervised) -> int | None:
    return _pid_of(c.process())


def _pid_of(process: subprocess.Popen[bytes] | None) -> int | None:
    """A live process's PID (None once it exited: poll() reaps it)."""
    return process.pid if process is not None and process.poll() is None else None
