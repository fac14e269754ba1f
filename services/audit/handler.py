"""audit: one row per event with its raw payload and origin; every redelivery is counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audit.tables import deliveries, events
from shared.bulk import arrays, bulk_insert, unnest
from shared.events import Delivery

COLUMNS = ("event_id", "event_type", "payload", "topic", "partition", "kafka_offset")
INSERT = bulk_insert(events, COLUMNS)
RECORD_DELIVERIES = bulk_insert(
    deliveries, ("event_id", "topic", "partition", "kafka_offset", "applied")
)
_repeats = unnest({"id": sa.Uuid(), "n": sa.Integer()})  # "event_id" would clash with SET
COUNT_REDELIVERY = (
    sa.update(events)
    .where(events.c.event_id == _repeats.c.id)
    .values(delivery_count=events.c.delivery_count + _repeats.c.n, last_seen=sa.func.now())
)


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], duplicates: Sequence[Delivery]
) -> None:
    if new:
        await conn.execute(
            INSERT,
            arrays(
                event_id=(d.event.event_id for d in new),
                event_type=(d.event.event_type for d in new),
                payload=(d.raw.decode() for d in new),
                topic=(d.topic for d in new),
                partition=(d.partition for d in new),
                kafka_offset=(d.offset for d in new),
            ),
        )
    every = [*new, *duplicates]
    await conn.execute(
        RECORD_DELIVERIES,
        arrays(
            event_id=(d.event.event_id for d in every),
            topic=(d.topic for d in every),
            partition=(d.partition for d in every),
            kafka_offset=(d.offset for d in every),
            applied=[True] * len(new) + [False] * len(duplicates),
        ),
    )
    # Redelivery is audit's subject: the row stays as first seen, its delivery count rises.
    repeats = Counter(d.event.event_id for d in duplicates)
    if repeats:
        ids = sorted(repeats)
        await conn.execute(COUNT_REDELIVERY, arrays(id=ids, n=(repeats[i] for i in ids)))
