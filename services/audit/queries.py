"""audit's read side: one event with every delivery, the redelivered events, recent events."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audit.tables import deliveries, events, inbox
from shared.readside import recent_rows


async def recent(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    columns = (events.c.event_type, events.c.delivery_count)
    joined = inbox.outerjoin(events, events.c.event_id == inbox.c.event_id)
    return await recent_rows(conn, inbox, limit, columns, joined)


async def event(conn: AsyncConnection, event_id: uuid.UUID) -> dict[str, Any] | None:
    """audit's row for one event with its inbox entry (event time, when it was persisted)."""
    stmt = (
        sa.select(events, inbox.c.event_time, inbox.c.persisted_at)
        .select_from(events.outerjoin(inbox, inbox.c.event_id == events.c.event_id))
        .where(events.c.event_id == event_id)
    )
    row = (await conn.execute(stmt)).first()
    return dict(row._mapping) if row else None


async def event_deliveries(conn: AsyncConnection, event_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every delivery of one event, in order: the first applied, the rest absorbed."""
    d = deliveries
    stmt = (
        sa.select(d.c.delivered_at, d.c.topic, d.c.partition, d.c.kafka_offset, d.c.applied)
        .where(d.c.event_id == event_id)
        .order_by(d.c.id)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def redelivered_events(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    """The events delivered more than once, most recently redelivered first."""
    ev = events
    stmt = (
        sa.select(
            ev.c.event_id,
            ev.c.event_type,
            ev.c.partition,
            ev.c.kafka_offset,
            ev.c.delivery_count,
            ev.c.first_seen,
            ev.c.last_seen,
        )
        .where(ev.c.delivery_count > 1)
        .order_by(ev.c.last_seen.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def redelivery_totals(conn: AsyncConnection) -> tuple[int, int]:
    """(events delivered more than once, redeliveries absorbed in all)."""
    row = (
        await conn.execute(
            sa.select(
                sa.func.count().filter(events.c.delivery_count > 1),
                sa.func.coalesce(sa.func.sum(events.c.delivery_count - 1), 0),
            )
        )
    ).one()
    return int(row[0]), int(row[1])
