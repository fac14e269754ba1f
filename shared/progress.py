"""Progress: per topic partition, how far the service persisted and what each offset became.

Written in the batch's own transaction, so the counters and the data never disagree. Every
offset is counted once, as exactly one of processed (applied), copies (the same event
published again at another offset, absorbed), invalid (dead-lettered) or skipped (no record
for a read_committed reader: a transaction marker, an aborted record); a redelivery of an
offset already persisted counts only as a duplicate absorbed. So on each partition
``persisted_offset + 1 = processed + copies + invalid + skipped`` (from offset 0), and the
committed offset never passes ``persisted_offset + 1`` — a lost event shows as a gap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from itertools import groupby

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.bulk import Statement, arrays, bulk_insert
from shared.dead_letters import DeadLetter
from shared.events import Delivery
from shared.fetch import Skipped
from shared.inbox import Claim

COLUMNS = (
    "topic",
    "partition",
    "persisted_offset",
    "processed",
    "duplicates",
    "copies",
    "invalid",
    "skipped",
    "last_event_time",
)
SUMMED = ("processed", "duplicates", "copies", "invalid", "skipped")
Key = tuple[str, int]  # (topic, partition)


@dataclass
class PartitionTally:
    last_offset: int = -1
    processed: int = 0
    duplicates: int = 0
    copies: int = 0
    invalid: int = 0
    skipped: int = 0
    last_event_time: datetime | None = None

    def add(self, other: PartitionTally) -> None:
        self.last_offset = max(self.last_offset, other.last_offset)
        for name in SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_event_time = _later(self.last_event_time, other.last_event_time)


@dataclass
class Outcome:
    """What one or more transactions of a batch did."""

    new: list[Delivery] = field(default_factory=list)
    absorbed: list[Delivery] = field(default_factory=list)
    letters: list[DeadLetter] = field(default_factory=list)
    partitions: dict[Key, PartitionTally] = field(
        default_factory=lambda: defaultdict(PartitionTally)
    )

    def merge(self, other: Outcome) -> Outcome:
        self.new += other.new
        self.absorbed += other.absorbed
        self.letters += other.letters
        for key, t in other.partitions.items():
            self.partitions[key].add(t)
        return self


def _partition(d: Delivery) -> Key:
    return d.topic, d.partition


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


@cache
def _upsert(progress: sa.Table) -> Statement:
    stmt = bulk_insert(progress, COLUMNS)
    c, x = progress.c, stmt.excluded
    statement = stmt.on_conflict_do_update(
        index_elements=["topic", "partition"],
        set_={
            "persisted_offset": sa.func.greatest(c.persisted_offset, x.persisted_offset),
            **{name: c[name] + x[name] for name in SUMMED},
            "last_event_time": sa.func.greatest(c.last_event_time, x.last_event_time),
            "updated_at": sa.func.now(),
        },
    )
    return Statement(statement)


async def record(
    conn: AsyncConnection,
    progress: sa.Table,
    claim: Claim,
    letters: list[DeadLetter],
    first_sightings: Iterable[tuple[str, int, int]],
    skipped: Iterable[Skipped] = (),
) -> Outcome:
    """Tally the transaction and add it to the progress rows; the caller commits."""
    out = Outcome(claim.new, claim.absorbed, letters)
    parts = out.partitions
    # A batch comes partition by partition: one tally per run of events, not per event.
    for key, run in groupby(claim.new, key=_partition):
        events = list(run)
        t = parts[key]
        t.processed += len(events)
        t.last_offset = max(t.last_offset, max(d.offset for d in events))
        t.last_event_time = _later(t.last_event_time, max(d.event.occurred_at for d in events))
    spans = list(skipped)
    # Read after the inbox claim: a concurrent writer of these partitions has committed by now.
    persisted = (
        await persisted_offsets(conn, progress) if claim.absorbed or spans or letters else {}
    )
    for d in claim.absorbed:
        t = parts[(d.topic, d.partition)]
        t.duplicates += 1
        t.copies += d.offset > persisted.get((d.topic, d.partition), -1)  # not a redelivery
        t.last_offset = max(t.last_offset, d.offset)
    for letter in letters:
        r = letter.rejected
        t = parts[(r.topic, r.partition)]
        t.last_offset = max(t.last_offset, r.offset)
    for topic, partition, offset in first_sightings:
        # Past the persisted offset only: a redelivered letter whose row retention deleted
        # (shared/retention.py) is inserted again, but its offset was counted long ago.
        key = (topic, partition)
        parts[key].invalid += offset > persisted.get(key, -1)
    for span in spans:  # only offsets not accounted before: a redelivered span counts once
        key = (span.topic, span.partition)
        t = parts[key]
        t.skipped += max(0, span.end - max(span.start, persisted.get(key, -1) + 1))
        t.last_offset = max(t.last_offset, span.end - 1)
    await _save(conn, progress, parts)
    return out


async def persisted_offsets(conn: AsyncConnection, progress: sa.Table) -> dict[Key, int]:
    rows = await conn.execute(
        sa.select(progress.c.topic, progress.c.partition, progress.c.persisted_offset)
    )
    return {(t, p): o for t, p, o in rows}


async def _save(
    conn: AsyncConnection, progress: sa.Table, parts: dict[Key, PartitionTally]
) -> None:
    if not parts:
        return
    tallies = sorted(parts.items())  # sorted: one lock order for all writers
    params = arrays(
        topic=(key[0] for key, _ in tallies),
        partition=(key[1] for key, _ in tallies),
        persisted_offset=(t.last_offset for _, t in tallies),
        **{name: [getattr(t, name) for _, t in tallies] for name in SUMMED},
        last_event_time=(t.last_event_time for _, t in tallies),
    )
    await _upsert(progress).execute(conn, params)
