"""The bench's latency runs: publish→persisted at fixed rates, with the services running and
caught up. Each run publishes ``rate × seconds`` events paced (each event's time is its send
time), waits until every service has committed them, and reads each event's persisted moment
as its inbox row's *commit* timestamp (``pg_xact_commit_timestamp``: the cluster runs with
``track_commit_timestamp``), not the transaction's start (``persisted_at``, ``now()``), which
would leave out the insert, the handler and the commit itself."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from types import TracebackType

import psycopg

from infra.bench.clock import GroupWatch
from infra.polling import wait_for
from services.registry import SERVICES
from shared.broker import log_end_offsets

Publish = Callable[[int, float, int], list[str]]  # count, rate, seed -> event ids
PERCENTILES = (0.5, 0.99)


class Cores:
    """CPU cores each process used while the block ran: ``snapshot()`` gives the measured
    processes' CPU seconds; this process is added as ``bench (publisher)``: it publishes, and
    it also polls the groups and queries the percentiles, so it is not the publisher alone. On a
    2-core machine a sum near 2 says the machine was saturated: a tail then is waiting for a
    core, not the loop's own wait (README, Latency)."""

    def __init__(self, snapshot: Callable[[], dict[str, float]]) -> None:
        self.snapshot = snapshot
        self.used: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        mine = os.times()
        return {**self.snapshot(), "bench (publisher)": mine.user + mine.system}

    def __enter__(self) -> Cores:
        self._start, self._at = self._now(), time.perf_counter()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        seconds, end = time.perf_counter() - self._at, self._now()
        self.used = {k: round((v - self._start.get(k, 0.0)) / seconds, 2) for k, v in end.items()}


def percentiles(url: str, schema: str, ids: list[str]) -> dict[str, float]:
    """p50 and p99 of commit time − event time over ``ids``, in ms, and the mean batch."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT percentile_cont(%s::float8[]) WITHIN GROUP (ORDER BY extract(epoch FROM "
            "pg_xact_commit_timestamp(xmin) - event_time)), count(*), "
            f"count(DISTINCT xmin::text) FROM {schema}.inbox WHERE event_id = ANY(%s::uuid[])",
            (list(PERCENTILES), ids),
        ).fetchone()
    assert row is not None
    (p50, p99), count, transactions = row
    assert count == len(ids), f"{schema}: {count} of the {len(ids)} latency events persisted"
    assert p50 is not None, f"{schema}: no commit timestamps (track_commit_timestamp is off)"
    # Events per transaction: the batch the loop took at this rate (what was there at once).
    batch = round(count / transactions, 1)
    return {"p50": round(p50 * 1000, 1), "p99": round(p99 * 1000, 1), "batch": batch}


def settle(url: str) -> None:
    """Before the latency runs: the drains left a million fresh rows, whose vacuum, analyze and
    checkpoint are done first, so they do not land inside the runs (one confounder fewer; the
    tails it left are in README, Throughput)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        conn.execute("CHECKPOINT")


def warm_up(bootstrap: str, topic: str, publish: Publish, rate: float, seconds: float) -> None:
    """Before the measured runs, ``seconds`` at ``rate``, unmeasured: a stack's first 30-40 s
    at a steady rate ran p99 1.5-3x its later runs, after a backlog drain too (README: Latency).
    Fresh services on a warmed stack did not: the broker's JVM is the likely cause."""
    _publish_and_wait(bootstrap, topic, publish, max(100, round(rate * seconds)), rate, seed=9)


def run_at(
    bootstrap: str, topic: str, url: str, publish: Publish, rate: float, seconds: float, seed: int
) -> dict[str, dict[str, float]]:
    """One latency run: per service, p50/p99 in ms and the events it was taken over."""
    count = max(100, round(rate * seconds))
    ids = _publish_and_wait(bootstrap, topic, publish, count, rate, seed)
    return {s: {**percentiles(url, s, ids), "events": count} for s in SERVICES}


def _publish_and_wait(
    bootstrap: str, topic: str, publish: Publish, count: int, rate: float, seed: int
) -> list[str]:
    ids = publish(count, rate, seed)
    ends = asyncio.run(log_end_offsets(bootstrap, topic))
    watch, target = GroupWatch(bootstrap, topic, ends), sum(ends.values())
    wait_for(
        lambda: all(watch.committed(s) == target for s in SERVICES),
        timeout=600,
        what=f"every service committing the {rate:,.0f}/s run",
        interval=0.2,  # polling the broker's committed offsets
    )
    return ids
