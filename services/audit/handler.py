"""audit: one row per event with its raw payload and origin (its first delivery); every
redelivery is recorded and counted. The event row is the inbox row (``CARRIED``): a first
delivery is written by the inbox claim, and the handler has only redeliveries to record."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audit.tables import inbox, redeliveries
from shared.bulk import DirectCopy, arrays, unnest
from shared.events import Delivery
from shared.inbox import Carried


def _carried(d: Delivery) -> tuple[str, str, str]:
    return (d.event.event_type, d.raw.decode(), d.topic)


# The inbox writes rows in the order they came (one sequence numbers events and redeliveries:
# the search lists deliveries by it); its staged claim too (one scan of a stage filled in order).
CARRIED = Carried(("event_type", "payload", "topic"), _carried)
RECORD_REDELIVERIES = DirectCopy(redeliveries, ("event_id", "topic", "partition", "kafka_offset"))
_repeats = unnest({"id": sa.Uuid(), "n": sa.Integer()})  # "event_id" would clash with SET
COUNT_REDELIVERY = (
    sa.update(inbox)
    .where(inbox.c.event_id == _repeats.c.id)
    .values(delivery_count=inbox.c.delivery_count + _repeats.c.n, last_seen=sa.func.now())
)


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], absorbed: Sequence[Delivery]
) -> None:
    del new  # their rows are the inbox's (CARRIED)
    if not absorbed:
        return
    # Redelivery is audit's subject: each is recorded; the row stays as first seen, its
    # delivery count rises.
    await RECORD_REDELIVERIES.execute(
        conn, ((d.event.event_id, d.topic, d.partition, d.offset) for d in absorbed)
    )
    repeats = Counter(d.event.event_id for d in absorbed)
    ids = sorted(repeats)
    await conn.execute(COUNT_REDELIVERY, arrays(id=ids, n=(repeats[i] for i in ids)))
