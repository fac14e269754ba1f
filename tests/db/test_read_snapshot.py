"""The read side's transaction is one snapshot (PostgreSQL alone): a batch that commits while
a reading is under way is in none of its statements or in all of them. With one snapshot per
statement, a reading of progress then inbox on a live stream saw the inbox ahead of the
progress — a gap ("inbox rows != processed + redriven") that was not there."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from shared import readside
from shared.db import async_engine
from tests.support.db import Db

INBOX_ROW = (
    "INSERT INTO billing.inbox (event_id, fingerprint, partition, kafka_offset, event_time)"
    " VALUES (gen_random_uuid(), '\\x00', 0, 0, now())"
)


async def counts_around_a_commit(url: str, db: Db) -> tuple[int, int]:
    engine = async_engine(url, pool_size=1)
    count = sa.text("SELECT count(*) FROM billing.inbox")
    try:
        async with readside.read_only(engine) as conn:
            first = int((await conn.execute(count)).scalar_one())
            db.execute(INBOX_ROW)  # another connection's batch, committed meanwhile
            return first, int((await conn.execute(count)).scalar_one())
    finally:
        await engine.dispose()


def test_a_reading_is_one_snapshot(clean_db: Db) -> None:
    first, second = asyncio.run(counts_around_a_commit(clean_db.url, clean_db))
    assert (first, second) == (0, 0)
    assert clean_db.inbox_count("billing") == 1  # the commit happened; the reading ignored it
