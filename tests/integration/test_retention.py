"""Retention deletes old dead letters and audit's redeliveries (a first delivery stays with its
event row), and reconcile stays exact —
after the delete, and after a replay from earliest redelivers the very offsets whose dead
letters are gone (their rows come back; their offsets are not counted again)."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from infra.cli import app
from infra.local.stack import Stack
from services.audit.tables import RETAINED
from shared.db import async_engine
from shared.retention import prune, retained_tables
from tests.badinput import bad
from tests.support.db import Db, counters, role_url
from tests.support.kafka import new_topic, produce, wait_committed_to_end
from tests.support.processes import groups_of, running_services
from tests.support.publishing import generate
from tests.support.reconcile import assert_reconciles, wait_caught_up

GOOD, BAD = 30, 4
SERVICES = ("billing", "audit")


def _prune(admin_url: str, service: str) -> dict[str, int]:
    """What the service's own timer runs, as its own role (its DELETE grant), everything
    older than now."""

    async def go() -> dict[str, int]:
        engine = async_engine(role_url(admin_url, service), pool_size=1)
        try:
            extra = RETAINED if service == "audit" else ()
            return await prune(engine, service, retained_tables(extra), hours=0)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _replay(bootstrap: str, group: str, topic: str) -> None:
    argv = ["reset-offsets", group, "--topic", topic, "--to-earliest", "--execute"]
    done = CliRunner().invoke(app, [*argv, "--bootstrap", bootstrap])
    assert done.exit_code == 0, done.output


def test_reconcile_stays_exact_after_retention_and_a_replay(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "retention", 1)
    good = [e.to_json() for e in generate(GOOD, seed=41)]
    hostile = [bad(event_type=f"jump-{i}") for i in range(BAD)]
    assert asyncio.run(produce(bootstrap, topic, [*good[:10], *hostile, *good[10:]])) == 34
    with running_services(stack, topic, SERVICES) as procs:
        wait_caught_up(db, bootstrap, topic, procs, GOOD)
        groups = groups_of(procs)
        assert_reconciles(stack.reader_url, bootstrap, topic, groups)
        assert _prune(stack.database_url, "billing") == {"dead_letters": BAD}
        assert _prune(stack.database_url, "audit") == {"dead_letters": BAD, "redeliveries": 0}
        assert [db.count(f"{s}.dead_letters") for s in SERVICES] == [0, 0]
        assert db.count("audit.deliveries", "applied") == GOOD  # each with its event row
        assert_reconciles(stack.reader_url, bootstrap, topic, groups)
        for p in procs.values():
            assert p.stop() == 0
            _replay(bootstrap, p.group, topic)
            p.start()
        for p in procs.values():
            wait_committed_to_end(bootstrap, p.group, topic, timeout=120)
        assert_reconciles(stack.reader_url, bootstrap, topic, groups)
    for name in SERVICES:  # every offset read twice, each counted once
        assert db.progress_sums(name) == counters(GOOD, duplicates=GOOD, invalid=BAD), name
        assert db.count(f"{name}.dead_letters") == BAD  # the replay's letters, stored again
    assert db.count("audit.deliveries", "NOT applied") == GOOD  # the replay's, all absorbed
    assert _prune(stack.database_url, "audit") == {"dead_letters": BAD, "redeliveries": GOOD}
    assert db.count("audit.deliveries") == GOOD  # the first deliveries: their event rows
