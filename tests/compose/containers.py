"""Helpers for tests on the compose stack: a service container seen as a process (for the
fault helpers' freeze/kill), snapshots of what the database holds, offsets read back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from infra.polling import GiveUp, wait_for
from shared.broker import committed_offsets, log_end_offsets
from tests.compose.stack import SERVICES, TOPIC, Tier
from tests.support.db import Db


@dataclass
class ContainerService:
    """A service container's main process, by its PID on the host: what the fault helpers
    need of a process (name, consumer group, pid, check_alive, pause/resume)."""

    tier: Tier
    name: str
    env: dict[str, str] = field(init=False)
    process: SimpleNamespace = field(init=False)

    def __post_init__(self) -> None:
        self.env = {"CONSUMER_GROUP": self.name}  # compose runs each group as its service name
        self.process = SimpleNamespace(pid=int(self.tier.state(self.name)["Pid"]))

    @property
    def group(self) -> str:
        return self.env["CONSUMER_GROUP"]

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def check_alive(self) -> None:
        """From /proc, not the engine: it is called in tight polling loops."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            fields = ["X"]
        if fields[0] in ("X", "Z"):
            raise GiveUp(
                f"{self.name} (pid {self.process.pid}) is gone:\n{self.tier.logs(self.name)}"
            )


def restarted(tier: Tier, service: str, old_pid: int, timeout: float = 90) -> None:
    """compose's restart policy brought the container back: same container, new process."""

    def back() -> bool:
        c = tier.project.container(service)
        return (
            c["State"]["Status"] == "running"
            and int(c["State"]["Pid"]) not in (0, old_pid)
            and c["RestartCount"] == 1
        )

    wait_for(back, timeout=timeout, what=f"{service} to be restarted", interval=0.5)
    tier.wait_healthy((service,))


def wait_all_committed(tier: Tier, timeout: float = 180) -> dict[int, int]:
    """Every group's committed offsets, read back from the broker, equal the log end."""

    def caught_up() -> dict[int, int]:
        ends = asyncio.run(log_end_offsets(tier.bootstrap, TOPIC))
        for group in SERVICES:
            if asyncio.run(committed_offsets(tier.bootstrap, group, TOPIC)) != ends:
                return {}
        return ends

    return wait_for(
        caught_up,
        timeout=timeout,
        what="every group to commit up to the log end",
        interval=0.5,
    )


@dataclass
class Snapshot:
    inbox: dict[str, int]
    sums: dict[str, dict[str, int]]
    totals: Counter[str]
    balances: dict[str, Decimal]


def snapshot(db: Db) -> Snapshot:
    return Snapshot(
        {n: db.inbox_count(n) for n in SERVICES},
        {n: db.progress_sums(n) for n in SERVICES},
        db.analytics_totals(),
        db.balances(),
    )
