"""The read side: what the dashboards, the overview and ``./fanout reconcile`` show.

Database reads go through an async SQLAlchemy engine inside a READ ONLY transaction (the read
side never writes, whatever role it connects as); Kafka facts come from plain broker clients
that join no group and commit nothing. Nothing here raises for an unreachable broker: callers
get the error as data and show it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.analytics import tables as analytics
from services.audit import tables as audit
from services.billing import tables as billing
from shared.broker import BrokerError, admin_client, group_offsets, offsets_client, topic_metadata
from shared.events import MAX_FUTURE
from shared.schema import READER_ROLE

SERVICES = ("analytics", "billing", "audit")  # each service's schema is its name
TABLES: dict[str, tuple[sa.Table, sa.Table]] = {
    "analytics": (analytics.inbox, analytics.progress),
    "billing": (billing.inbox, billing.progress),
    "audit": (audit.inbox, audit.progress),
}
BROKER_TIMEOUT_S = 5.0
READABLE_FROM = datetime(1, 1, 2, tzinfo=UTC)  # earlier instants have no UTC year >= 1


def reader_url(admin_url: str) -> str:
    """The read-only role's URL on the same server as ``admin_url``."""
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{READER_ROLE}:{READER_ROLE}@{host}"))


# --- database -------------------------------------------------------------------------------


@asynccontextmanager
async def read_only(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a READ ONLY transaction, rolled back on leaving (nothing to keep)."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SET TRANSACTION READ ONLY"))
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


async def read_progress(
    conn: AsyncConnection, service: str, topic: str
) -> dict[int, PartitionProgress]:
    """The service's progress on ``topic`` (its redrive topic has rows of its own)."""
    progress = TABLES[service][1]
    rows = await conn.execute(
        sa.select(
            progress.c.partition,
            progress.c.persisted_offset,
            progress.c.processed,
            progress.c.duplicates,
            progress.c.invalid,
            progress.c.last_event_time,
            progress.c.copies,
        ).where(progress.c.topic == topic)
    )
    return {r.partition: PartitionProgress(*r) for r in rows}


async def processed_elsewhere(conn: AsyncConnection, service: str, topic: str) -> int:
    """Events the service applied from topics other than ``topic`` (its redrive topic)."""
    progress = TABLES[service][1]
    total = sa.func.coalesce(sa.func.sum(progress.c.processed), 0)
    return int((await conn.execute(sa.select(total).where(progress.c.topic != topic))).scalar_one())


async def inbox_rows(conn: AsyncConnection, service: str) -> int:
    inbox = TABLES[service][0]
    return int((await conn.execute(sa.select(sa.func.count()).select_from(inbox))).scalar_one())


async def recent_events(conn: AsyncConnection, service: str, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` events persisted, newest first, with the service's own columns."""
    inbox = TABLES[service][0]
    cols: list[Any] = [
        inbox.c.event_id,
        inbox.c.partition,
        inbox.c.kafka_offset,
        inbox.c.event_time,
        inbox.c.persisted_at,
    ]
    source: Any = inbox
    if service == "billing":
        led = billing.ledger
        cols += [led.c.user_id, led.c.event_type, led.c.amount]
        source = inbox.outerjoin(led, led.c.event_id == inbox.c.event_id)
    elif service == "audit":
        ev = audit.events
        cols += [ev.c.event_type, ev.c.delivery_count]
        source = inbox.outerjoin(ev, ev.c.event_id == inbox.c.event_id)
    # One batch shares one persisted_at (its transaction's time): event time orders within it.
    stmt = (
        sa.select(*cols)
        .select_from(source)
        .order_by(inbox.c.persisted_at.desc(), inbox.c.event_time.desc(), inbox.c.event_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def minute_counts(conn: AsyncConnection, minutes: int) -> list[tuple[datetime, str, int]]:
    """analytics: (minute, type, count) for the ``minutes`` minutes up to the newest one.

    Anchored on the newest minute, not on now: replayed history (the seed's 2020 events)
    still shows."""
    t = analytics.type_minute_counts
    # Only minutes a chart can show: an old row from the far future must not pin the axis.
    plausible = t.c.minute.between(READABLE_FROM, sa.func.now() + sa.literal(MAX_FUTURE))
    newest = sa.select(sa.func.max(t.c.minute)).where(plausible).scalar_subquery()
    stmt = (
        sa.select(t.c.minute, t.c.event_type, t.c.count)
        .where(plausible, t.c.minute > newest - sa.literal(timedelta(minutes=minutes), sa.Interval))
        .order_by(t.c.minute, t.c.event_type)
    )
    return [
        (r.minute, r.event_type, int(r[2])) for r in await conn.execute(stmt)
    ]  # r.count is tuple.count


async def type_totals(conn: AsyncConnection) -> dict[str, int]:
    t = analytics.type_minute_counts
    rows = await conn.execute(
        sa.select(t.c.event_type, sa.func.sum(t.c.count)).group_by(t.c.event_type)
    )
    return {r[0]: int(r[1]) for r in rows}


@dataclass(frozen=True)
class LedgerTotals:
    entries: int
    debits: Decimal  # sum of buys, negative
    credits: Decimal  # sum of sells, positive
    users: int

    @property
    def net(self) -> Decimal:
        return self.debits + self.credits


async def ledger_totals(conn: AsyncConnection) -> LedgerTotals:
    led, bal = billing.ledger, billing.balances
    zero = sa.literal(Decimal("0.00"))
    row = (
        await conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(led.c.amount).filter(led.c.amount < 0), zero),
                sa.func.coalesce(sa.func.sum(led.c.amount).filter(led.c.amount > 0), zero),
            )
        )
    ).one()
    users = (await conn.execute(sa.select(sa.func.count()).select_from(bal))).scalar_one()
    return LedgerTotals(int(row[0]), Decimal(row[1]), Decimal(row[2]), int(users))


async def top_balances(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    bal = billing.balances
    stmt = (
        sa.select(bal.c.user_id, bal.c.balance, bal.c.entries)
        .order_by(bal.c.balance.desc(), bal.c.user_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def audit_event(conn: AsyncConnection, event_id: uuid.UUID) -> dict[str, Any] | None:
    """audit's row for one event with its inbox entry (event time, when it was persisted)."""
    ev, inbox = audit.events, audit.inbox
    stmt = (
        sa.select(ev, inbox.c.event_time, inbox.c.persisted_at)
        .select_from(ev.outerjoin(inbox, inbox.c.event_id == ev.c.event_id))
        .where(ev.c.event_id == event_id)
    )
    row = (await conn.execute(stmt)).first()
    return dict(row._mapping) if row else None


async def audit_deliveries(conn: AsyncConnection, event_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every delivery of one event, in order: the first applied, the rest absorbed."""
    d = audit.deliveries
    stmt = (
        sa.select(d.c.delivered_at, d.c.topic, d.c.partition, d.c.kafka_offset, d.c.applied)
        .where(d.c.event_id == event_id)
        .order_by(d.c.id)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def redelivered_events(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """audit: the events delivered more than once, most recently redelivered first."""
    ev = audit.events
    stmt = (
        sa.select(
            ev.c.event_id,
            ev.c.event_type,
            ev.c.partition,
            ev.c.kafka_offset,
            ev.c.delivery_count,
            ev.c.first_seen,
            ev.c.last_seen,
        )
        .where(ev.c.delivery_count > 1)
        .order_by(ev.c.last_seen.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def redelivery_totals(conn: AsyncConnection) -> tuple[int, int]:
    """audit: (events delivered more than once, redeliveries absorbed in all)."""
    ev = audit.events
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(ev.c.delivery_count > 1),
                sa.func.coalesce(sa.func.sum(ev.c.delivery_count - 1), 0),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


# --- broker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokerFacts:
    """The topic's log-end offsets and each group's committed offsets, or why they are missing."""

    topic: str
    log_end: dict[int, int] = field(default_factory=dict)
    committed: dict[str, dict[int, int]] = field(default_factory=dict)  # group → partition
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


async def broker_facts(
    bootstrap: str, topic: str, groups: Iterable[str], within: float = BROKER_TIMEOUT_S
) -> BrokerFacts:
    """Never raises for broker trouble: a dashboard must keep showing the database."""
    try:
        async with asyncio.timeout(within):
            return await _read_broker(bootstrap, topic, list(groups))
    except (KafkaError, BrokerError, OSError, TimeoutError) as exc:
        return BrokerFacts(topic, error=f"{type(exc).__name__}: {exc}".rstrip(": "))


async def _read_broker(bootstrap: str, topic: str, groups: list[str]) -> BrokerFacts:
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
        tps = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
        committed = {
            group: {tp.partition: off for tp, off in (await group_offsets(admin, group)).items()
                    if tp.topic == topic}
            for group in groups
        }  # fmt: skip
    async with offsets_client(bootstrap) as consumer:
        ends = await consumer.end_offsets(tps)
    return BrokerFacts(topic, {tp.partition: off for tp, off in sorted(ends.items())}, committed)


# --- reconciliation -------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionRecon:
    partition: int
    log_end: int
    committed: int | None  # None: the group never committed this partition
    persisted_offset: int | None  # highest offset the service persisted; None: none yet
    last_event_time: datetime | None

    @property
    def lag(self) -> int:
        return self.log_end - (self.committed or 0)

    @property
    def window(self) -> int:
        """Events in the database above the committed offset: what a restart redelivers."""
        if self.persisted_offset is None:
            return 0
        return max(self.persisted_offset + 1 - (self.committed or 0), 0)

    def time_lag(self, now: datetime) -> float | None:
        """Seconds between now and the newest persisted event; 0 when nothing is left to read
        (a caught-up group is not late, however old its last event is)."""
        if self.lag <= 0:
            return 0.0
        if self.last_event_time is None:
            return None
        return max((now - self.last_event_time).total_seconds(), 0.0)


@dataclass(frozen=True)
class ServiceRecon:
    """Every offset of the events topic is accounted for once: applied (processed), absorbed
    as a copy of an event published before, or dead-lettered (invalid). And every inbox row
    was applied from the events topic or from a redrive."""

    service: str
    group: str
    persisted: int  # inbox rows: events applied exactly once, redriven ones included
    processed: int  # applied from the events topic
    copies: int
    invalid: int
    duplicates: int  # every delivery absorbed, redeliveries included
    redriven: int  # applied from the redrive topic
    partitions: list[PartitionRecon]

    @property
    def accounted(self) -> int:
        return self.processed + self.copies + self.invalid

    @property
    def published(self) -> int:
        return sum(p.log_end for p in self.partitions)

    @property
    def committed(self) -> int:
        return sum(p.committed or 0 for p in self.partitions)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def window(self) -> int:
        return sum(p.window for p in self.partitions)

    @property
    def gaps(self) -> list[str]:
        out = []
        if self.published != self.accounted:
            out.append(
                f"published {self.published} != processed {self.processed} + copies "
                f"{self.copies} + invalid {self.invalid}"
            )
        if self.persisted != self.processed + self.redriven:
            out.append(
                f"inbox rows {self.persisted} != processed {self.processed} + redriven "
                f"{self.redriven}"
            )
        behind = [
            p.partition
            for p in self.partitions
            if p.committed != p.log_end and not (p.committed is None and p.log_end == 0)
        ]
        if behind:
            out.append(f"committed != log end on partitions {behind}")
        return out

    @property
    def reconciled(self) -> bool:
        return not self.gaps


def reconcile(service: str, group: str, facts: BrokerFacts, state: ServiceState) -> ServiceRecon:
    progress = state.progress
    parts = [
        PartitionRecon(
            p,
            end,
            facts.committed.get(group, {}).get(p),
            progress[p].persisted_offset if p in progress else None,
            progress[p].last_event_time if p in progress else None,
        )
        for p, end in sorted(facts.log_end.items())
    ]
    rows = progress.values()
    return ServiceRecon(
        service,
        group,
        persisted=state.persisted,
        processed=sum(r.processed for r in rows),
        copies=sum(r.copies for r in rows),
        invalid=sum(r.invalid for r in rows),
        duplicates=sum(r.duplicates for r in rows),
        redriven=state.redriven,
        partitions=parts,
    )


@dataclass(frozen=True)
class ServiceState:
    """What one service's schema says about its progress."""

    progress: dict[int, PartitionProgress]
    persisted: int  # inbox rows
    redriven: int = 0  # applied from other topics than the events topic


async def read_states(
    engine: AsyncEngine, services: Iterable[str], topic: str
) -> dict[str, ServiceState]:
    """Every service's progress on ``topic`` and inbox size, in one read-only transaction."""
    async with read_only(engine) as conn:
        return {
            s: ServiceState(
                await read_progress(conn, s, topic),
                await inbox_rows(conn, s),
                await processed_elsewhere(conn, s, topic),
            )
            for s in services
        }


def utcnow() -> datetime:
    return datetime.now(UTC)
