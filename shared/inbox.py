"""The inbox: claim each event id once, so the handler applies each event exactly once.

The usual batch is all new: its rows are COPYed straight into the inbox. A batch holding an id
already there (a redelivery) fails that COPY on the primary key, which takes the transaction
with it (``SeenBefore``): the loop runs it again with a staged claim, ``INSERT … ON CONFLICT
(event_id) DO NOTHING RETURNING event_id``, which tells new events from ones already applied.
(A savepoint around the COPY would spare that re-run at two round trips on every batch; the
staged way on every batch cost 5-8 µs more CPU per event: README, Throughput.) An id already
there is *absorbed* when its payload is byte-identical (a redelivery, or the same event
published again) and a *conflicting duplicate* when it is not: the first write stands and the
conflict is dead-lettered, never silently overwritten.

A service whose own table would repeat every inbox row (audit's events) has the inbox row carry
those columns instead (``Carried``): one row and one ``event_id`` index per event, not two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.bulk import DirectCopy, Stage, StagedInsert
from shared.events import Delivery, Rejected

COLUMNS = ("event_id", "fingerprint", "partition", "kafka_offset", "event_time")


def fingerprint(raw: bytes) -> bytes:
    """Identity of a payload: a redelivery is byte-identical, a conflicting one is not."""
    return hashlib.blake2b(raw, digest_size=16).digest()


@dataclass(frozen=True)
class Carried:
    """A service's own columns on its inbox rows: their names, and their values per event."""

    columns: tuple[str, ...]
    values: Callable[[Delivery], tuple[Any, ...]]


@dataclass
class Claim:
    new: list[Delivery] = field(default_factory=list)  # first time: apply
    absorbed: list[Delivery] = field(default_factory=list)  # seen, same bytes: do nothing
    conflicts: list[Rejected] = field(default_factory=list)  # seen, other bytes: dead letter


@cache
def _claim(inbox: sa.Table, columns: tuple[str, ...]) -> StagedInsert:
    stage = Stage(inbox, columns)
    statement = (
        stage.insert()
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(inbox.c.event_id)
    )
    return StagedInsert(stage, statement, returns=True)


@cache
def _copy(inbox: sa.Table, columns: tuple[str, ...]) -> DirectCopy:
    return DirectCopy(inbox, columns)


class SeenBefore(Exception):
    """The straight COPY met an id already in the inbox; the transaction is lost with it: run
    it again with ``staged=True``."""


async def _insert(
    conn: AsyncConnection,
    inbox: sa.Table,
    rows: list[tuple[Any, ...]],
    staged: bool,
    carried: Carried | None,
) -> set[UUID] | None:
    """Claim ``rows``: the ids inserted (the others were there already), None for all."""
    columns = COLUMNS if carried is None else (*COLUMNS, *carried.columns)
    if staged:
        ids = {i for (i,) in await _claim(inbox, columns).execute(conn, rows)}
        return None if len(ids) == len(rows) else ids
    try:
        await _copy(inbox, columns).execute(conn, rows)
    except IntegrityError as exc:
        if isinstance(exc.orig, UniqueViolation):
            raise SeenBefore from exc
        raise
    return None


def _rows(first: dict[UUID, Delivery], carried: Carried | None) -> list[tuple[Any, ...]]:
    if carried is None:
        return [
            (i, fingerprint(d.raw), d.partition, d.offset, d.event.occurred_at)
            for i, d in first.items()
        ]
    values = carried.values
    return [
        (i, fingerprint(d.raw), d.partition, d.offset, d.event.occurred_at, *values(d))
        for i, d in first.items()
    ]


async def claim(
    conn: AsyncConnection,
    inbox: sa.Table,
    deliveries: Sequence[Delivery],
    staged: bool = False,
    carried: Carried | None = None,
) -> Claim:
    """Claim the batch's ids inside the open transaction; the caller commits. Not ``staged``,
    a batch holding an id seen before raises ``SeenBefore``."""
    first: dict[UUID, Delivery] = {}
    repeats: list[Delivery] = []  # the same event id twice in one batch
    for d in deliveries:  # one lookup each: UUID's hash is Python code
        if first.setdefault(d.event.event_id, d) is not d:
            repeats.append(d)
    if not first:
        return Claim()
    rows = _rows(first, carried)
    inserted = await _insert(conn, inbox, rows, staged, carried)
    if inserted is None and not repeats:  # the usual batch: every event new
        return Claim(new=list(first.values()))
    inserted = set(first) if inserted is None else inserted
    out = Claim(new=[d for i, d in first.items() if i in inserted])
    seen = [d for i, d in first.items() if i not in inserted]
    stored = {row[0]: row[1] for row in rows if row[0] in inserted}
    stored.update(await _stored_prints(conn, inbox, seen))
    for d in seen + repeats:
        if fingerprint(d.raw) == stored[d.event.event_id]:
            out.absorbed.append(d)
        else:
            out.conflicts.append(conflict(d))
    return out


def conflict(d: Delivery) -> Rejected:
    return Rejected(
        d.topic,
        d.partition,
        d.offset,
        d.raw,
        "conflicting_duplicate",
        f"event_id {d.event.event_id} was first stored with another payload",
        d.event.event_id,
    )


async def _stored_prints(
    conn: AsyncConnection, inbox: sa.Table, deliveries: list[Delivery]
) -> dict[UUID, bytes]:
    """Only when the insert returned fewer ids than it got: no round trip otherwise."""
    if not deliveries:
        return {}
    rows = await conn.execute(
        sa.select(inbox.c.event_id, inbox.c.fingerprint).where(
            inbox.c.event_id == sa.func.any(sa.bindparam("ids", type_=sa.ARRAY(sa.Uuid)))
        ),
        {"ids": [d.event.event_id for d in deliveries]},
    )
    return {i: bytes(f) for i, f in rows}
