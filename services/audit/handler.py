"""audit: one row per event with its raw payload and origin; every redelivery is counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audit.tables import events
from shared.events import Delivery


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], duplicates: Sequence[Delivery]
) -> None:
    if new:
        rows = [
            {"event_id": d.event.event_id, "event_type": d.event.event_type,
             "payload": d.raw.decode(), "topic": d.topic, "partition": d.partition,
             "kafka_offset": d.offset}
            for d in new
        ]
        await conn.execute(insert(events), rows)
    # Redelivery is audit's subject: the row stays as first seen, its delivery count rises.
    repeats = Counter(d.event.event_id for d in duplicates)
    if repeats:
        stmt = (
            sa.update(events)
            .where(events.c.event_id == sa.bindparam("id"))
            .values(delivery_count=events.c.delivery_count + sa.bindparam("n"),
                    last_seen=sa.func.now())
        )
        await conn.execute(stmt, [{"id": i, "n": n} for i, n in sorted(repeats.items())])
