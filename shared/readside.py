"""The read side every service shares: progress, inbox, broker facts and reconciliation — by
schema name (``consumer_tables``), so the kit reads any service without importing it. Each
service's own read queries are in its ``queries.py``.

Database reads go through an async SQLAlchemy engine inside a READ ONLY transaction (the read
side never writes, whatever role it connects as); Kafka facts come from plain broker clients
that join no group and commit nothing. Nothing here raises for an unreachable broker: callers
get the error as data and show it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db import async_engine, read_engine
from shared.schema import ConsumerTables, consumer_tables


@cache
def tables_of(schema: str) -> ConsumerTables:
    """inbox, progress, dead_letters and offsets of the service whose schema is ``schema``."""
    return consumer_tables(schema, sa.MetaData())


@asynccontextmanager
async def read_only(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a READ ONLY, REPEATABLE READ transaction, rolled back on leaving
    (nothing to keep): every statement of a reading sees one snapshot, so inbox rows and
    progress counters read one after the other never disagree on a live stream."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        yield conn


@dataclass(frozen=True)
class PartitionProgress:
    """One row of a service's ``progress`` table."""

    partition: int
    persisted_offset: int
    processed: int
    duplicates: int
    invalid: int
    last_event_time: datetime | None
    copies: int = 0
    skipped: int = 0  # transaction markers and aborted records: no event at those offsets

    @property
    def accounted(self) -> int:
        """Offsets the service decided: each once, as applied, copy, invalid or skipped."""
        return self.processed + self.copies + self.invalid + self.skipped


async def read_progress(
    conn: AsyncConnection, service: str, topic: str
) -> dict[int, PartitionProgress]:
    """The service's progress on ``topic`` (its redrive topic has rows of its own)."""
    progress = tables_of(service).progress
    rows = await conn.execute(
        sa.select(
            progress.c.partition,
            progress.c.persisted_offset,
            progress.c.processed,
            progress.c.duplicates,
            progress.c.invalid,
            progress.c.last_event_time,
            progress.c.copies,
            progress.c.skipped,
        ).where(progress.c.topic == topic)
    )
    return {r.partition: PartitionProgress(*r) for r in rows}


async def read_stored(
    conn: AsyncConnection, service: str, group: str, topic: str
) -> dict[int, int]:
    """OFFSET_STORE=database: the next offset the group's row holds, per partition of
    ``topic`` (none for a group that never ran in database mode)."""
    t = tables_of(service).offsets
    rows = await conn.execute(
        sa.select(t.c.partition, t.c.next_offset).where(t.c.group_id == group, t.c.topic == topic)
    )
    return {r.partition: r.next_offset for r in rows}


async def processed_elsewhere(conn: AsyncConnection, service: str, topic: str) -> int:
    """Events the service applied from topics other than ``topic`` (its redrive topic)."""
    progress = tables_of(service).progress
    total = sa.func.coalesce(sa.func.sum(progress.c.processed), 0)
    return int((await conn.execute(sa.select(total).where(progress.c.topic != topic))).scalar_one())


async def inbox_rows(conn: AsyncConnection, service: str) -> int:
    inbox = tables_of(service).inbox
    return int((await conn.execute(sa.select(sa.func.count()).select_from(inbox))).scalar_one())


async def recent_rows(
    conn: AsyncConnection,
    inbox: sa.Table,
    limit: int,
    columns: Iterable[sa.ColumnElement[Any]] = (),
    source: sa.FromClause | None = None,
) -> list[dict[str, Any]]:
    """The last ``limit`` events persisted, newest first; a service adds its own ``columns``
    from its tables joined in ``source``."""
    base = [inbox.c.event_id, inbox.c.partition, inbox.c.kafka_offset, inbox.c.event_time]
    stmt = (
        sa.select(*base, inbox.c.persisted_at, *columns)
        .select_from(source if source is not None else inbox)
        # One batch shares one persisted_at (its transaction's time): event time orders within.
        .order_by(inbox.c.persisted_at.desc(), inbox.c.event_time.desc(), inbox.c.event_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


@dataclass(frozen=True)
class ServiceState:
    """What one service's schema says about its progress."""

    progress: dict[int, PartitionProgress]
    persisted: int  # inbox rows
    redriven: int = 0  # applied from other topics than the events topic
    stored: dict[int, int] = field(default_factory=dict)  # the group's offsets rows, if any


async def read_states(
    engine: AsyncEngine, groups: Mapping[str, str], topic: str
) -> dict[str, ServiceState]:
    """Every service's progress on ``topic``, inbox size and its group's offsets rows (service
    → group in ``groups``), in one read-only transaction."""
    async with read_only(engine) as conn:
        return {
            s: ServiceState(
                await read_progress(conn, s, topic),
                await inbox_rows(conn, s),
                await processed_elsewhere(conn, s, topic),
                await read_stored(conn, s, group, topic),
            )
            for s, group in groups.items()
        }


async def read_states_where(
    engines: Mapping[str, AsyncEngine], groups: Mapping[str, str], topic: str
) -> dict[str, ServiceState]:
    """``read_states`` with each service read where it lives (``engines``: service → its
    database; a database per service, or one for all): one read-only transaction per database."""
    out: dict[str, ServiceState] = {}
    for engine in dict.fromkeys(engines.values()):  # each database once, in the services' order
        here = {s: g for s, g in groups.items() if engines[s] is engine}
        out |= await read_states(engine, here, topic)
    return out


def engines_for(
    urls: Mapping[str, str], pool_size: int, statement_timeout_ms: int | None = None
) -> dict[str, AsyncEngine]:
    """Per service, an engine on its URL; services that share a URL share the engine. With
    ``statement_timeout_ms``: a dashboards' read pool (``read_engine``), else a plain one."""

    def make(url: str) -> AsyncEngine:
        if statement_timeout_ms is None:
            return async_engine(url, pool_size=pool_size)
        return read_engine(url, pool_size, statement_timeout_ms)

    by_url = {url: make(url) for url in dict.fromkeys(urls.values())}
    return {s: by_url[url] for s, url in urls.items()}


async def dispose(engines: Mapping[str, AsyncEngine]) -> None:
    for engine in dict.fromkeys(engines.values()):
        await engine.dispose()


def utcnow() -> datetime:
    return datetime.now(UTC)
