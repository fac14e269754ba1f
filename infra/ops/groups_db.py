"""``./fanout reset-offsets`` for a group that keeps its offsets in the database
(``OFFSET_STORE=database``): its rows in the services' ``offsets`` tables move with Kafka's
offsets. A row is the authoritative committed offset in database mode (a claim takes the
greater of it and Kafka's), so a reset that moved only Kafka's would not move the group back."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import SERVICES
from shared.db import async_engine
from shared.readside import read_stored, tables_of


async def _rows(engine: AsyncEngine, group: str, topic: str) -> dict[str, dict[int, int]]:
    async with engine.connect() as conn:
        found = {s: await read_stored(conn, s, group, topic) for s in SERVICES}
    return {s: rows for s, rows in found.items() if rows}


async def stored_rows(database_url: str, group: str, topic: str) -> dict[str, dict[int, int]]:
    """Per service whose schema holds rows of ``group`` on ``topic``: partition → next offset."""
    engine = async_engine(database_url, pool_size=1)
    try:
        return await _rows(engine, group, topic)
    finally:
        await engine.dispose()


async def move_rows(
    database_url: str, group: str, topic: str, new: dict[int, int]
) -> dict[str, dict[int, int]]:
    """Every row of ``group`` on ``topic`` to ``new`` (partition → offset), in one transaction;
    the epoch bumped too, so an instance still finishing a batch is fenced. Returns the rows
    as they are after it."""
    engine = async_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            for service in SERVICES:
                t = tables_of(service).offsets
                for partition, offset in sorted(new.items()):
                    await conn.execute(
                        sa.update(t)
                        .where(t.c.group_id == group, t.c.topic == topic)
                        .where(t.c.partition == partition)
                        .values(
                            next_offset=offset,
                            owner_epoch=t.c.owner_epoch + 1,
                            owner_instance="reset-offsets",
                            updated_at=sa.func.now(),
                        )
                    )
        return await _rows(engine, group, topic)
    finally:
        await engine.dispose()
