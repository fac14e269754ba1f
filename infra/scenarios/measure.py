"""What scenarios measure with: one reading of broker and database together (``read_around``,
through `./fanout reconcile`'s own snapshot, so a live stream never makes a reading contradict
itself), waiting until a group has committed past a point, and billing's ledger over a set of
offsets."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from infra.cli.reconcile import snapshot
from infra.polling import async_wait_for
from infra.scenarios.engine import Check, Say
from infra.scenarios.platform import POLL_S, Platform
from shared.db import async_engine
from shared.reconcile import ServiceRecon

# Per partition, a half-open range of offsets [start, end).
Ranges = dict[int, tuple[int, int]]

LEDGER_OF_OFFSETS = sa.text(
    "SELECT count(*), coalesce(sum(l.amount), 0) FROM billing.ledger l"
    " JOIN billing.inbox i ON i.event_id = l.event_id"
    " JOIN unnest(CAST(:parts AS int[]), CAST(:starts AS bigint[]), CAST(:ends AS bigint[]))"
    " AS r(p, lo, hi) ON i.partition = r.p AND i.kafka_offset >= r.lo AND i.kafka_offset < r.hi"
)


async def reading(platform: Platform, name: str) -> ServiceRecon:
    """``name``'s reconciliation now: committed offsets, then its database, then log ends."""
    return (await readings(platform, name))[name]


async def readings(platform: Platform, *names: str) -> dict[str, ServiceRecon]:
    """Several services in one reading (one set of log ends for all)."""
    url = platform.need_database()
    found = await snapshot(platform.bootstrap, url, platform.topic, platform.groups(*names))
    return {r.service: r for r in found}


def log_ends_of(recon: ServiceRecon) -> dict[int, int]:
    return {p.partition: p.log_end for p in recon.partitions}


def committed_of(recon: ServiceRecon) -> dict[int, int]:
    return {p.partition: p.committed or 0 for p in recon.partitions}


def window_of(recon: ServiceRecon) -> Ranges:
    """Per partition, the offsets persisted above the committed one: what a restart
    redelivers (only partitions where there are some)."""
    return {p.partition: (p.committed or 0, p.decided) for p in recon.partitions if p.window}


async def wait_committed(
    platform: Platform, name: str, target: dict[int, int], timeout: float = 120
) -> ServiceRecon:
    """Poll until ``name``'s group has committed at least ``target`` on every partition."""
    last: list[ServiceRecon] = []

    async def past() -> bool:
        recon = await reading(platform, name)
        last[:] = [recon]
        done = committed_of(recon)
        return all(done.get(p, 0) >= off for p, off in target.items())

    await async_wait_for(
        past, timeout=timeout, what=f"{name} to commit past {target}", interval=POLL_S * 2
    )
    return last[0]


async def ledger_of(platform: Platform, ranges: Ranges) -> tuple[int, Decimal]:
    """Billing's ledger entries (count, total) of the events at ``ranges``' offsets."""
    params = {
        "parts": list(ranges),
        "starts": [lo for lo, _ in ranges.values()],
        "ends": [hi for _, hi in ranges.values()],
    }
    count, total = await row(platform.need_database(), LEDGER_OF_OFFSETS, **params)
    return int(count), Decimal(total)


async def row(url: str, sql: sa.TextClause, **params: Any) -> tuple[Any, ...]:
    """The one row ``sql`` returns, on a connection of its own."""
    engine = async_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return tuple((await conn.execute(sql, params)).one())
    finally:
        await engine.dispose()


async def column(url: str, sql: sa.TextClause, **params: Any) -> list[Any]:
    """The first value of every row ``sql`` returns, in its order."""
    engine = async_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return [r[0] for r in await conn.execute(sql, params)]
    finally:
        await engine.dispose()


async def execute(url: str, sql: str) -> None:
    """One statement, committed (the admin role's rule, added or dropped)."""
    engine = async_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(sql))
    finally:
        await engine.dispose()


def gaps_check(say: Say, *recons: ServiceRecon) -> Check:
    """Reconcile's verdict on ``recons``: 0 gaps predicted; each one found is narrated."""
    found = [f"{r.service}: {gap}" for r in recons for gap in r.gaps]
    for gap in found:
        say(f"reconcile found a gap in {gap}")
    return Check("gaps (reconcile)", 0, len(found))


def below(offsets: dict[int, int]) -> Ranges:
    """Every offset below ``offsets``, per partition."""
    return {p: (0, off) for p, off in offsets.items()}


def ranges_text(ranges: Ranges) -> str:
    """``p3: 120–161`` (inclusive), ``p0: 21`` for one offset."""
    spans = [(p, lo, hi - 1) for p, (lo, hi) in sorted(ranges.items()) if hi > lo]
    return ", ".join(f"p{p}: {lo}" + (f"–{last}" if last > lo else "") for p, lo, last in spans)


def elapsed(since: float) -> str:
    return f"{time.monotonic() - since:.1f} s"
