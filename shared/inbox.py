"""Persist one batch in one transaction: inbox first, then the handler, then progress.

The inbox insert (``ON CONFLICT DO NOTHING RETURNING event_id``) tells new events from
redelivered ones, so the handler applies each event's effects exactly once.
"""

from __future__ import annotations

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
from shared.service import ServiceDefinition

INBOX_COLUMNS = ("event_id", "partition", "kafka_offset", "event_time")
PROGRESS_COLUMNS = ("partition", "persisted_offset", "processed", "duplicates", "invalid",
                    "last_event_time")


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
    partitions: dict[int, PartitionTally] = field(default_factory=lambda: defaultdict(PartitionTally))


@cache
def _inbox_insert(inbox: sa.Table) -> sa.Executable:
    return (bulk_insert(inbox, INBOX_COLUMNS)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(inbox.c.event_id))


@cache
def _progress_upsert(progress: sa.Table) -> Insert:
    stmt = bulk_insert(progress, PROGRESS_COLUMNS)
    c, x = progress.c, stmt.excluded
    return stmt.on_conflict_do_update(
        index_elements=["partition"],
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
    first: dict[UUID, Delivery] = {}
    repeats: list[Delivery] = []  # the same event twice in one batch
    for d in deliveries:
        if d.event.event_id in first:
            repeats.append(d)
        else:
            first[d.event.event_id] = d
    inserted: set[UUID] = set()
    if first:
        batch = list(first.values())
        params = arrays(
            event_id=first,
            partition=(d.partition for d in batch),
            kafka_offset=(d.offset for d in batch),
            event_time=(d.event.occurred_at for d in batch),
        )
        inserted = set((await conn.execute(_inbox_insert(service.inbox), params)).scalars())
    result = BatchResult(rejected=rejected)
    for d in first.values():
        (result.new if d.event.event_id in inserted else result.duplicates).append(d)
    result.duplicates.extend(repeats)

    await service.handler(conn, result.new, result.duplicates)
    _tally(result)
    await _save_progress(conn, service.progress, result)
    return result


def _tally(result: BatchResult) -> None:
    parts = result.partitions
    for d in result.new:
        t = parts[d.partition]
        t.new += 1
        t.last_offset = max(t.last_offset, d.offset)
        if t.last_event_time is None or d.event.occurred_at > t.last_event_time:
            t.last_event_time = d.event.occurred_at
    for d in result.duplicates:
        t = parts[d.partition]
        t.duplicates += 1
        t.last_offset = max(t.last_offset, d.offset)
    for r in result.rejected:
        t = parts[r.partition]
        t.invalid += 1
        t.last_offset = max(t.last_offset, r.offset)


async def _save_progress(conn: AsyncConnection, progress: sa.Table, result: BatchResult) -> None:
    if not result.partitions:
        return
    tallies = sorted(result.partitions.items())  # sorted: one lock order for all writers
    params = arrays(
        partition=(p for p, _ in tallies),
        persisted_offset=(t.last_offset for _, t in tallies),
        processed=(t.new for _, t in tallies),
        duplicates=(t.duplicates for _, t in tallies),
        invalid=(t.invalid for _, t in tallies),
        last_event_time=(t.last_event_time for _, t in tallies),
    )
    await conn.execute(_progress_upsert(progress), params)
