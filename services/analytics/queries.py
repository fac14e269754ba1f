"""analytics' read side: counts per event type per minute, totals per type, recent events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics.tables import inbox, type_minute_counts
from shared.events import MAX_FUTURE
from shared.readside import recent_rows

READABLE_FROM = datetime(1, 1, 2, tzinfo=UTC)  # earlier instants have no UTC year >= 1


async def recent(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    return await recent_rows(conn, inbox, limit)


async def minute_counts(conn: AsyncConnection, minutes: int) -> list[tuple[datetime, str, int]]:
    """(minute, type, count) for the ``minutes`` minutes up to the newest one.

    Anchored on the newest minute, not on now: replayed history (the seed's 2020 events)
    still shows. Only minutes a chart can show: an old row from the far future (or one the
    driver cannot read) must not pin the axis."""
    t = type_minute_counts
    plausible = t.c.minute.between(READABLE_FROM, sa.func.now() + sa.literal(MAX_FUTURE))
    newest = sa.select(sa.func.max(t.c.minute)).where(plausible).scalar_subquery()
    window = sa.literal(timedelta(minutes=minutes), sa.Interval)
    stmt = (
        sa.select(t.c.minute, t.c.event_type, t.c.count)
        .where(plausible, t.c.minute > newest - window)
        .order_by(t.c.minute, t.c.event_type)
    )
    return [(r.minute, r.event_type, int(r[2])) for r in await conn.execute(stmt)]


async def type_totals(conn: AsyncConnection) -> dict[str, int]:
    t = type_minute_counts
    rows = await conn.execute(
        sa.select(t.c.event_type, sa.func.sum(t.c.count)).group_by(t.c.event_type)
    )
    return {r[0]: int(r[1]) for r in rows}
