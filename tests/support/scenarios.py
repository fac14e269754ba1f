"""Scenarios as the tests run them: the platform's own supervisor over a test's services (its
status file in a folder of the test's own, which is what `./fanout scenario` finds beside
`./fanout up`), `./fanout scenario run NAME` as a real subprocess, and its verdict line read
back into numbers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from infra.local import proc
from infra.local.restarts import Restarts
from infra.local.stack import Stack
from infra.local.supervisor import Running, Supervisor
from infra.paths import ROOT
from tests.support.db import Db

CHECK = re.compile(
    r"(?P<what>[^;]+): predicted (?P<predicted>[-\d.]+), measured (?P<measured>[-\d.]+)"
)


class FolderSupervisor(Supervisor):
    """The supervisor of `./fanout up`, with its status file in ``state``/up (the state root a
    scenario run is pointed at) instead of the test stack's own folder."""

    def __init__(self, stack: Stack, state: Path) -> None:
        super().__init__(stack)
        self.state = state

    @property
    def pidfile(self) -> Path:
        return self.state / "up" / "supervisor.json"


@contextmanager
def supervised(
    stack: Stack, topic: str, names: tuple[str, ...], state: Path, **env: str
) -> Iterator[FolderSupervisor]:
    """Run ``names`` on ``topic`` (each in a group unique to the test) under a supervisor
    that restarts them — unless held — as `./fanout up` does."""
    with supervising(FolderSupervisor(stack, state), topic, names, **env) as sup:
        yield sup


@contextmanager
def supervised_with_brokers(
    stack: Stack, topic: str, names: tuple[str, ...], state: Path, **env: str
) -> Iterator[FolderSupervisor]:
    """As supervised(), and the supervisor restarts the stack's broker nodes too (a scenario
    kills one), as `./fanout up` does."""
    sup = FolderSupervisor(stack, state)
    sup.supervise_infra()
    sup.infra.pop("postgres", None)  # the session's database is not this test's to revive
    with supervising(sup, topic, names, **env) as running:
        yield running


@contextmanager
def supervising(
    sup: FolderSupervisor, topic: str, names: tuple[str, ...], **env: str
) -> Iterator[FolderSupervisor]:
    sup.pidfile.parent.mkdir(parents=True, exist_ok=True)
    sup.request_folders()  # held/, scale/, store/: the account's, as under ./fanout up
    sup.stack.provision(topic)  # the operator's: dead-letter and redrive topics, ACLs
    suffix = topic.rsplit("-", 1)[-1]
    specs = {s.name: s for s in sup.specs()}
    for name in names:
        spec = specs[name]
        spec.env.update({"EVENTS_TOPIC": topic, "CONSUMER_GROUP": f"{name}-{suffix}", **env})
        spec.env["FANOUT_SUPERVISOR_STATUS"] = str(sup.pidfile)  # this one, not the stack's
        record = Restarts(name, spec.restart, sup.backoff)
        sup.running[name] = Running(spec, sup.spawn(spec), record)
    sup.write_status()
    watcher = threading.Thread(target=sup.watch, name="test-supervisor", daemon=True)
    watcher.start()
    try:
        yield sup
    finally:
        sup.stopping = True
        watcher.join(timeout=10)
        for r in sup.running.values():
            proc.stop(r.process)
        sup.pidfile.unlink(missing_ok=True)


@dataclass(frozen=True)
class ScenarioRun:
    code: int
    lines: list[str]

    @property
    def verdict(self) -> str:
        return self.lines[-1]

    def checks(self) -> dict[str, tuple[Decimal, Decimal]]:
        """The verdict's numbers: what → (predicted, measured)."""
        assert self.verdict.startswith("verdict: "), self.lines
        found = CHECK.finditer(self.verdict.split(" — ", 1)[1])
        return {m["what"].strip(): (Decimal(m["predicted"]), Decimal(m["measured"])) for m in found}


def run_scenario(name: str, state: Path, timeout: float = 400, **env: str) -> ScenarioRun:
    """`./fanout scenario run NAME` (the CLI, in its own process) with its state root at
    ``state``; ``env`` adds variables (the publisher's, when playing compose's side)."""
    result = subprocess.run(
        [sys.executable, "-m", "infra.cli", "scenario", "run", name],
        cwd=ROOT,
        env={**os.environ, "FANOUT_STATE_DIR": str(state), "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = result.stdout.splitlines()
    assert lines, f"no narration; stderr:\n{result.stderr[-3000:]}"
    return ScenarioRun(result.returncode, lines)


def window_events(lines: list[str]) -> dict[int, tuple[int, int]]:
    """The window's offsets as the narration names them: ``p3: 120–161`` (inclusive), ``p0: 21``."""
    line = next(x for x in lines if x.startswith("the window: "))
    spans = line.split("(", 1)[1].split(")", 1)[0]
    out = {}
    for span in spans.split(", "):
        p, lo_hi = span.split(": ")
        lo, _, hi = lo_hi.partition("–")
        out[int(p.removeprefix("p"))] = (int(lo), int(hi or lo) + 1)
    return out


def window_ledger(db: Db, window: dict[int, tuple[int, int]]) -> tuple[int, Decimal]:
    """Billing's ledger entries of the window's offsets, read directly (admin role)."""
    count, total = 0, Decimal(0)
    for p, (lo, hi) in window.items():
        ((n, s),) = db.all(
            "SELECT count(*), coalesce(sum(l.amount), 0) FROM billing.ledger l JOIN billing.inbox"
            " i USING (event_id) WHERE i.partition = %s AND i.kafka_offset >= %s"
            " AND i.kafka_offset < %s",
            p,
            lo,
            hi,
        )
        count, total = count + int(n), total + Decimal(s)
    return count, total
