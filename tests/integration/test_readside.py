"""The read side against a real broker and database: the numbers the dashboards and
`./fanout reconcile` show equal what the database and the broker hold, read independently."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy.exc import DBAPIError

from infra.local.stack import Stack
from services.analytics import queries as analytics
from services.audit import queries as audit
from services.billing import queries as billing
from shared import readside, reconcile
from shared.db import async_engine
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, ends, new_topic
from tests.support.processes import groups_of, running_services
from tests.support.publishing import amounts, balances, publish_events, type_totals
from tests.support.reconcile import run_reconcile, wait_caught_up


async def read_everything(url: str, bootstrap: str, topic: str, groups: dict[str, str]) -> dict:
    """One pass over every read-side query, as the fanout_reader role."""
    engine = async_engine(url, pool_size=1)
    try:
        states = await readside.read_states(engine, groups, topic)
        facts = await reconcile.broker_facts(bootstrap, topic, groups.values())
        async with readside.read_only(engine) as conn:
            return {
                "recons": {
                    s: reconcile.reconcile(s, g, facts, states[s]) for s, g in groups.items()
                },
                "totals": await analytics.type_totals(conn),
                "minutes": await analytics.minute_counts(conn, 24 * 60),
                "ledger": await billing.ledger_totals(conn),
                "top": await billing.top_balances(conn, 10),
                "recent": await billing.recent(conn, 5),
                "redelivery": await audit.redelivery_totals(conn),
            }
    finally:
        await engine.dispose()


def test_read_side_numbers_equal_the_database_and_broker(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "readside", PARTITIONS)
    batch = publish_events(bootstrap, topic, 2_000, seed=21)
    with running_services(stack, topic) as procs:
        wait_caught_up(db, bootstrap, topic, procs, 2_000)
        groups = groups_of(procs)
        got = asyncio.run(read_everything(stack.reader_url, bootstrap, topic, groups))

    log_end = ends(bootstrap, topic)
    for name in SERVICES:
        r = got["recons"][name]
        assert (r.published, r.persisted, r.invalid, r.duplicates) == (2_000, 2_000, 0, 0)
        assert (r.committed, r.lag, r.window, r.reconciled) == (2_000, 0, 0, True)
        assert {p.partition: p.log_end for p in r.partitions} == log_end
        persisted = db.persisted_offsets(name, topic)
        assert {p.partition: p.persisted_offset for p in r.partitions} == persisted
    assert got["totals"] == dict(type_totals(batch))
    assert sum(n for _, _, n in got["minutes"]) == 2_000
    truth = balances(batch)
    buys, sells = amounts(batch, "buy"), amounts(batch, "sell")
    ledger = got["ledger"]
    assert (ledger.entries, ledger.users) == (len(buys) + len(sells), len(truth))
    assert (ledger.debits, ledger.credits) == (-sum(buys, Decimal(0)), sum(sells, Decimal(0)))
    top = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(r["user_id"], r["balance"]) for r in got["top"]] == top
    newest = db.all(
        "SELECT event_id FROM billing.inbox "
        "ORDER BY persisted_at DESC, event_time DESC, event_id LIMIT 5"
    )
    assert [r["event_id"] for r in got["recent"]] == [r[0] for r in newest]
    assert got["redelivery"] == (0, 0)


def test_reconcile_shows_the_crash_window_and_exits_by_its_gaps(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "reconcile", PARTITIONS)
    publish_events(bootstrap, topic, 3_000, seed=22)
    url = stack.reader_url

    with running_services(stack, topic, CRASH_AFTER_BATCH="3", BATCH_MAX="250") as procs:
        for p in procs.values():
            p.wait_crashed()
        groups = groups_of(procs)
        got = asyncio.run(read_everything(url, bootstrap, topic, groups))
        for name, group in groups.items():
            offsets = committed(bootstrap, group, topic)
            persisted = db.persisted_offsets(name, topic)
            expected = {p: max(off + 1 - offsets.get(p, 0), 0) for p, off in persisted.items()}
            r = got["recons"][name]
            assert {
                p.partition: p.window for p in r.partitions if p.partition in persisted
            } == expected
            assert r.window == db.inbox_count(name) - sum(offsets.values()) > 0
            # Persisted, not committed: redelivered and absorbed after a restart. In flight,
            # not lost: nothing below the committed offsets is missing.
            assert r.reconciled and r.lag == 3_000 - sum(offsets.values()), r.gaps
        shown = run_reconcile(url, bootstrap, topic, groups)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "catching up" in shown.stdout

        for p in procs.values():
            p.start(CRASH_AFTER_BATCH=None)
        done = run_reconcile(url, bootstrap, topic, groups, "--wait", "180")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reconciled" in done.stdout
    for name in SERVICES:
        assert db.inbox_count(name) == 3_000


def test_read_only_connections_refuse_writes(stack: Stack) -> None:
    """Even as the admin role, a read-side connection cannot write."""

    async def try_write() -> None:
        engine = async_engine(stack.database_url, pool_size=1)
        try:
            async with readside.read_only(engine) as conn:
                await conn.exec_driver_sql("CREATE TABLE readside_must_not_write (x int)")
        finally:
            await engine.dispose()

    with pytest.raises(DBAPIError, match="read-only transaction"):
        asyncio.run(try_write())


def test_broker_facts_report_an_unreachable_broker_instead_of_raising() -> None:
    facts = asyncio.run(reconcile.broker_facts("127.0.0.1:1", "multi-app-events", ["g"], within=3))
    assert not facts.reachable and facts.error and facts.log_end == {}
