"""The lab's naive consumer (infra/lab/naive.py) as a contrast scenario drives it: its role
gets a password of the run's own for the run only, the process starts in a group of the
run's own, crashes where asked, is started again, and stopped; what it wrote is then read
back from its own table."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from infra.local import proc
from infra.paths import ROOT
from infra.polling import GiveUp, async_wait_for
from infra.scenarios.measure import execute, row
from infra.scenarios.platform import POLL_S, Platform
from shared.broker import committed_offsets
from shared.kafka_auth import identity

CRASH_MIN_BATCH = 8  # a batch of the scenario's burst, not one of the live publisher's trickle
Batch = list[tuple[int, int, Decimal | None]]  # partition, offset, amount

# What the naive table holds for a group: rows, distinct events, their true amount, and the
# running total the consumer kept beside them.
WRITTEN = sa.text(
    "SELECT count(*), count(DISTINCT (partition, kafka_offset)),"
    " coalesce((SELECT sum(amount) FROM (SELECT DISTINCT ON (partition, kafka_offset) amount"
    "   FROM naive.writes WHERE consumer_group = :g) d), 0),"
    " coalesce((SELECT events FROM naive.totals WHERE consumer_group = :g), 0),"
    " coalesce((SELECT amount FROM naive.totals WHERE consumer_group = :g), 0)"
    " FROM naive.writes WHERE consumer_group = :g"
)
ROWS_AT = sa.text(
    "SELECT count(*) FROM naive.writes w JOIN unnest(CAST(:parts AS int[]),"
    " CAST(:offs AS bigint[])) AS b(p, o) ON w.partition = b.p AND w.kafka_offset = b.o"
    " WHERE w.consumer_group = :g"
)
# Per partition, the distinct offsets written below a bound (the group's committed offset).
WRITTEN_BELOW = sa.text(
    "SELECT count(DISTINCT (w.partition, w.kafka_offset)) FROM naive.writes w"
    " JOIN unnest(CAST(:parts AS int[]), CAST(:ends AS bigint[])) AS b(p, e)"
    " ON w.partition = b.p AND w.kafka_offset < b.e WHERE w.consumer_group = :g"
)


@dataclass(frozen=True)
class Written:
    rows: int
    events: int  # distinct (partition, offset)
    amount: Decimal  # of the distinct events
    total_events: int  # the consumer's running total
    total_amount: Decimal


@dataclass
class NaiveConsumer:
    platform: Platform
    commit: str  # auto | manual
    url: str
    home: Path
    group: str = field(default_factory=lambda: f"naive-{uuid.uuid4().hex[:8]}")
    process: subprocess.Popen[bytes] | None = None
    start: dict[int, int] = field(default_factory=dict)

    @property
    def report(self) -> Path:
        return self.home / "lab" / f"{self.group}.jsonl"

    def lines(self) -> list[dict[str, Any]]:
        if not self.report.exists():
            return []
        return [json.loads(x) for x in self.report.read_text().splitlines() if x]

    async def run(self, crash: str = "none") -> None:
        """Start it (armed with ``crash``) and wait until it owns every partition."""
        seen = len(self.lines())
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.platform.bootstrap,
            "EVENTS_TOPIC": self.platform.topic,
            "CONSUMER_GROUP": self.group,
            "DATABASE_URL": self.url,
            "NAIVE_COMMIT": self.commit,
            "NAIVE_CRASH": crash,
            "NAIVE_CRASH_MIN_BATCH": str(CRASH_MIN_BATCH),
            "NAIVE_REPORT": str(self.report),
            # The scenario's own identity (the operator's): the counter-example is the lab's,
            # not a principal of the platform's.
            **(auth.environment() if (auth := identity()) is not None else {}),
        }
        self.report.parent.mkdir(parents=True, exist_ok=True)
        log = self.home / "logs" / f"{self.group}.log"
        argv = [sys.executable, "-m", "infra.lab.naive"]
        self.process = proc.spawn(argv, log, env={**os.environ, **env}, cwd=ROOT)
        ready = await self.wait_line("ready", seen, f"the naive consumer to join ({log})")
        if not self.start:
            self.start = {int(p): o for p, o in ready["start"].items()}

    @property
    def running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "the naive consumer was never started"
        return self.process

    async def wait_line(self, event: str, seen: int, what: str) -> dict[str, Any]:
        async def there() -> bool:
            if self.running.poll() is not None and not self._found(event, seen):
                raise GiveUp(f"{what}: it exited with {self.running.returncode}")
            return self._found(event, seen) is not None

        await async_wait_for(there, timeout=120, what=what, interval=POLL_S)
        found = self._found(event, seen)
        assert found is not None
        return found

    def _found(self, event: str, seen: int) -> dict[str, Any] | None:
        return next((x for x in self.lines()[seen:] if x["event"] == event), None)

    async def crashed(self) -> Batch:
        """Wait for its crash; the batch it had in hand."""
        line = await self.wait_line("crash", 0, "the naive consumer's crash switch")
        await self.exited(30)
        return [(p, o, None if a is None else Decimal(a)) for p, o, a in line["batch"]]

    async def catch_up(self, ends: dict[int, int]) -> dict[int, int]:
        """Wait until its group committed ``ends``, then stop it (SIGTERM: it finishes its
        batch); returns its committed offsets."""
        b, topic = self.platform.bootstrap, self.platform.topic

        async def there() -> bool:
            done = await committed_offsets(b, self.group, topic)
            return all(done.get(p, 0) >= end for p, end in ends.items())

        await async_wait_for(there, timeout=120, what=f"{self.group} to commit {ends}")
        await self.stop()
        return await committed_offsets(b, self.group, topic)

    async def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            await self.exited(30)

    async def exited(self, timeout: float) -> None:
        async def gone() -> bool:
            return self.running.poll() is not None

        await async_wait_for(gone, timeout=timeout, what="the naive process to exit")

    async def written(self) -> Written:
        r = await row(self.platform.need_database(), WRITTEN, g=self.group)
        return Written(int(r[0]), int(r[1]), Decimal(r[2]), int(r[3]), Decimal(r[4]))

    async def rows_at(self, batch: Batch) -> int:
        params = {"parts": [p for p, _, _ in batch], "offs": [o for _, o, _ in batch]}
        (n,) = await row(self.platform.need_database(), ROWS_AT, g=self.group, **params)
        return int(n)

    async def written_below(self, ends: dict[int, int]) -> int:
        params = {"parts": list(ends), "ends": list(ends.values())}
        (n,) = await row(self.platform.need_database(), WRITTEN_BELOW, g=self.group, **params)
        return int(n)


@asynccontextmanager
async def naive_consumer(platform: Platform, commit: str) -> AsyncIterator[NaiveConsumer]:
    """The naive role may log in for this run only, with a password of the run's own."""
    home = platform.need_processes("(the lab's naive consumer runs beside `./fanout up` only)")
    admin = platform.need_admin("the naive consumer's run")
    platform.need_database()
    token = secrets.token_hex(16)
    await execute(admin, f"ALTER ROLE naive LOGIN PASSWORD '{token}'")  # hex: nothing to quote
    naive = NaiveConsumer(platform, commit, role_url(admin, "naive", token), home)
    try:
        yield naive
    finally:
        await naive.stop()
        await execute(admin, "ALTER ROLE naive NOLOGIN PASSWORD NULL")


def role_url(admin_url: str, role: str, password: str) -> str:
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))
