"""The dashboards' own pool (PostgreSQL alone): every statement is cut off by the server
after its timeout, and no more than its size of sessions is ever open, whatever the burst."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared import readside
from shared.db import READ_APPLICATION, read_engine
from shared.schema import READER_ROLE
from tests.support.db import Db, role_url


async def _timeout_and_cancel(url: str) -> str:
    engine = read_engine(url, 1, 300)
    try:
        async with readside.read_only(engine) as conn:
            shown = str((await conn.execute(sa.text("SHOW statement_timeout"))).scalar_one())
        with pytest.raises(OperationalError, match="statement timeout"):
            async with readside.read_only(engine) as conn:
                await conn.execute(sa.text("SELECT pg_sleep(5)"))
        return shown
    finally:
        await engine.dispose()


def test_a_dashboard_statement_is_cut_off_by_the_server(db: Db) -> None:
    assert asyncio.run(_timeout_and_cancel(role_url(db.url, "billing"))) == "300ms"


async def _burst(url: str) -> tuple[int, int, int]:
    engine = read_engine(url, 2, 2000)
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with readside.read_only(engine) as conn:
            sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"
            n = (await conn.execute(sa.text(sessions), {"a": READ_APPLICATION})).scalar_one()
            peak = max(peak, int(n))
            await conn.execute(sa.text("SELECT pg_sleep(0.05)"))

    try:
        results = await asyncio.gather(*(one() for _ in range(40)), return_exceptions=True)
        refused = sum(isinstance(r, PoolTimeout) for r in results)
        failed = sum(isinstance(r, BaseException) for r in results) - refused
        return peak, refused, failed
    finally:
        await engine.dispose()


def test_a_burst_of_reads_holds_at_most_the_pools_sessions(db: Db) -> None:
    peak, refused, failed = asyncio.run(_burst(role_url(db.url, READER_ROLE)))
    # 40 reads of ~50 ms through 2 connections take ~1 s: all wait their turn (none past the
    # pool's 2 s wait), and never more than 2 sessions are open.
    assert (peak, refused, failed) == (2, 0, 0)
