"""audit: one row per event with its raw payload and origin; every redelivery is counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audit.tables import deliveries, events
from shared.bulk import DirectCopy, arrays, unnest
from shared.events import Delivery

COLUMNS = ("event_id", "event_type", "payload", "topic", "partition", "kafka_offset")
# Straight in: the inbox has already told new events from seen ones. Deliveries keep the
# order they came in (the search lists an event's deliveries by this table's id).
INSERT = DirectCopy(events, COLUMNS)
RECORD_DELIVERIES = DirectCopy(
    deliveries, ("event_id", "topic", "partition", "kafka_offset", "applied")
)
_repeats = unnest({"id": sa.Uuid(), "n": sa.Integer()})  # "event_id" would clash with SET
COUNT_REDELIVERY = (
    sa.update(events)
    .where(events.c.event_id == _repeats.c.id)
    .values(delivery_count=events.c.delivery_count + _repeats.c.n, last_seen=sa.func.now())
)


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], absorbed: Sequence[Delivery]
) -> None:
    if new:
        rows = (
            (d.event.event_id, d.event.event_type, d.raw.decode(), d.topic, d.partition, d.offset)
            for d in new
        )
        await INSERT.execute(conn, rows)
    deliveries = [(d.event.event_id, d.topic, d.partition, d.offset, True) for d in new]
    deliveries += [(d.event.event_id, d.topic, d.partition, d.offset, False) for d in absorbed]
    await RECORD_DELIVERIES.execute(conn, deliveries)
    # Redelivery is audit's subject: the row stays as first seen, its delivery count rises.
    repeats = Counter(d.event.event_id for d in absorbed)
    if repeats:
        ids = sorted(repeats)
        await conn.execute(COUNT_REDELIVERY, arrays(id=ids, n=(repeats[i] for i in ids)))
