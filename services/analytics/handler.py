"""analytics: counts per event type per minute. Totals are the sum over minutes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.tables import type_minute_counts
from shared.events import Delivery


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], duplicates: Sequence[Delivery]
) -> None:
    del duplicates  # counted by the loop; a count must not move twice
    counts = Counter(
        (d.event.occurred_at.replace(second=0, microsecond=0), d.event.event_type) for d in new
    )
    if not counts:
        return
    stmt = insert(type_minute_counts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["minute", "event_type"],
        set_={"count": type_minute_counts.c.count + stmt.excluded.count},
    )
    # Sorted keys: concurrent writers (two instances) lock rows in one order, no deadlock.
    rows = [{"minute": m, "event_type": t, "count": n} for (m, t), n in sorted(counts.items())]
    await conn.execute(stmt, rows)
