"""Persist one batch in one transaction: inbox first, then the handler, then progress.

The inbox insert (``ON CONFLICT DO NOTHING RETURNING event_id``) tells new events from
redelivered ones, so the handler applies each event's effects exactly once. A redelivered
id whose payload differs from the first one stored is a *conflicting duplicate*: the first
write stands and the conflict is dead-lettered, never silently overwritten.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.bulk import arrays, bulk_insert
from shared.events import Delivery, Rejected
from shared.schema import ConsumerTables
from shared.service import ServiceDefinition

INBOX_COLUMNS = ("event_id", "fingerprint", "partition", "kafka_offset", "event_time")
PROGRESS_COLUMNS = (
    "topic",
    "partition",
    "persisted_offset",
    "processed",
    "duplicates",
    "invalid",
    "last_event_time",
)
DEAD_COLUMNS = ("topic", "partition", "kafka_offset", "event_id", "reason", "error", "payload")


def fingerprint(raw: bytes) -> bytes:
    """Identity of a payload: a redelivery is byte-identical, a conflicting one is not."""
    return hashlib.blake2b(raw, digest_size=16).digest()


@dataclass
class PartitionTally:
    last_offset: int = -1
    new: int = 0
    duplicates: int = 0
    invalid: int = 0
    last_event_time: datetime | None = None


@dataclass
class BatchResult:
    new: list[Delivery] = field(default_factory=list)
    duplicates: list[Delivery] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    partitions: dict[tuple[str, int], PartitionTally] = field(
        default_factory=lambda: defaultdict(PartitionTally)
    )

    def merge(self, other: BatchResult) -> None:
        self.new += other.new
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        for key, t in other.partitions.items():
            mine = self.partitions[key]
            mine.last_offset = max(mine.last_offset, t.last_offset)
            mine.new += t.new
            mine.duplicates += t.duplicates
            mine.invalid += t.invalid
            if t.last_event_time and (
                not mine.last_event_time or t.last_event_time > mine.last_event_time
            ):
                mine.last_event_time = t.last_event_time


@cache
def _inbox_insert(inbox: sa.Table) -> sa.Executable:
    return (
        bulk_insert(inbox, INBOX_COLUMNS)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox.c.event_id)
    )


@cache
def _dead_insert(dead: sa.Table) -> sa.Executable:
    return (
        bulk_insert(dead, DEAD_COLUMNS)
        .on_conflict_do_nothing(index_elements=["topic", "partition", "kafka_offset"])
        .returning(dead.c.topic, dead.c.partition)
    )


@cache
def _progress_upsert(progress: sa.Table) -> Insert:
    stmt = bulk_insert(progress, PROGRESS_COLUMNS)
    c, x = progress.c, stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["topic", "partition"],
        set_={
            "persisted_offset": sa.func.greatest(c.persisted_offset, x.persisted_offset),
            "processed": c.processed + x.processed,
            "duplicates": c.duplicates + x.duplicates,
            "invalid": c.invalid + x.invalid,
            "last_event_time": sa.func.greatest(c.last_event_time, x.last_event_time),
            "updated_at": sa.func.now(),
        },
    )


async def persist_batch(
    conn: AsyncConnection,
    service: ServiceDefinition,
    deliveries: list[Delivery],
    rejected: list[Rejected],
) -> BatchResult:
    """Run inside an open transaction; the caller commits."""
    tables = service.tables
    first: dict[UUID, Delivery] = {}
    prints: dict[UUID, bytes] = {}
    repeats: list[Delivery] = []  # the same event id twice in one batch
    for d in deliveries:
        if d.event.event_id in first:
            repeats.append(d)
        else:
            first[d.event.event_id] = d
            prints[d.event.event_id] = fingerprint(d.raw)
    inserted: set[UUID] = set()
    if first:
        batch = list(first.values())
        params = arrays(
            event_id=first,
            fingerprint=prints.values(),
            partition=(d.partition for d in batch),
            kafka_offset=(d.offset for d in batch),
            event_time=(d.event.occurred_at for d in batch),
        )
        inserted = set((await conn.execute(_inbox_insert(tables.inbox), params)).scalars())
    result = BatchResult()
    seen_before = [d for d in first.values() if d.event.event_id not in inserted]
    result.new = [d for d in first.values() if d.event.event_id in inserted]
    stored = await _stored_prints(conn, tables, seen_before)
    stored.update({i: prints[i] for i in inserted})
    for d in seen_before + repeats:
        if fingerprint(d.raw) == stored[d.event.event_id]:
            result.duplicates.append(d)
        else:
            rejected = [*rejected, conflict(d)]
    await service.handler(conn, result.new, result.duplicates)
    result.rejected = rejected
    await _dead_letter(conn, tables, result)
    _tally(result)
    await _save_progress(conn, tables.progress, result)
    return result


def conflict(d: Delivery) -> Rejected:
    return Rejected(
        d.topic,
        d.partition,
        d.offset,
        d.raw,
        "conflicting_duplicate",
        f"event_id {d.event.event_id} was first stored with another payload",
    )


async def _stored_prints(
    conn: AsyncConnection, tables: ConsumerTables, deliveries: list[Delivery]
) -> dict[UUID, bytes]:
    if not deliveries:
        return {}
    inbox = tables.inbox
    rows = await conn.execute(
        sa.select(inbox.c.event_id, inbox.c.fingerprint).where(
            inbox.c.event_id == sa.func.any(sa.bindparam("ids", type_=sa.ARRAY(sa.Uuid)))
        ),
        {"ids": [d.event.event_id for d in deliveries]},
    )
    return {i: bytes(f) for i, f in rows}


async def _dead_letter(conn: AsyncConnection, tables: ConsumerTables, result: BatchResult) -> None:
    """Record rejected events once per source offset; only first sightings count as invalid
    (a redelivered bad event is dead-lettered again in Kafka, but not counted twice)."""
    if not result.rejected:
        return
    rj = result.rejected
    rows = await conn.execute(
        _dead_insert(tables.dead_letters),
        arrays(
            topic=(r.topic for r in rj),
            partition=(r.partition for r in rj),
            kafka_offset=(r.offset for r in rj),
            event_id=(r.event_id for r in rj),
            reason=(r.reason for r in rj),
            error=(r.error for r in rj),
            payload=(r.raw for r in rj),
        ),
    )
    for topic, partition in rows:
        result.partitions[(topic, partition)].invalid += 1


def _tally(result: BatchResult) -> None:
    parts = result.partitions
    for d in result.new:
        t = parts[(d.topic, d.partition)]
        t.new += 1
        t.last_offset = max(t.last_offset, d.offset)
        if t.last_event_time is None or d.event.occurred_at > t.last_event_time:
            t.last_event_time = d.event.occurred_at
    for d in result.duplicates:
        t = parts[(d.topic, d.partition)]
        t.duplicates += 1
        t.last_offset = max(t.last_offset, d.offset)
    for r in result.rejected:
        t = parts[(r.topic, r.partition)]
        t.last_offset = max(t.last_offset, r.offset)


async def _save_progress(conn: AsyncConnection, progress: sa.Table, result: BatchResult) -> None:
    if not result.partitions:
        return
    tallies = sorted(result.partitions.items())  # sorted: one lock order for all writers
    params = arrays(
        topic=(tp[0] for tp, _ in tallies),
        partition=(tp[1] for tp, _ in tallies),
        persisted_offset=(t.last_offset for _, t in tallies),
        processed=(t.new for _, t in tallies),
        duplicates=(t.duplicates for _, t in tallies),
        invalid=(t.invalid for _, t in tallies),
        last_event_time=(t.last_event_time for _, t in tallies),
    )
    await conn.execute(_progress_upsert(progress), params)
