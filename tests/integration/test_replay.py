"""Replay with proof, the crash switch behind `./fanout crash`, and least privilege."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.local.stack import Stack
from tests.support.db import Db, counters, role_url
from tests.support.kafka import PARTITIONS, committed, new_topic, wait_committed_to_end
from tests.support.processes import running_services
from tests.support.publishing import balances, publish_events
from tests.support.reconcile import wait_caught_up
from tests.support.web import arm_crash


def test_replay_from_earliest_leaves_totals_unchanged(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "replay", PARTITIONS)
    batch = publish_events(bootstrap, topic, 2_000, seed=21)

    with running_services(stack, topic, ("billing",)) as procs:
        billing = procs["billing"]
        group = billing.group
        wait_caught_up(db, bootstrap, topic, procs, 2_000)
        assert billing.stop() == 0
        ledger = db.count("billing.ledger")

        reset = CliRunner().invoke(
            app,
            [
                "reset-offsets",
                group,
                "--topic",
                topic,
                "--to-earliest",
                "--execute",
                "--bootstrap",
                bootstrap,
            ],
        )
        assert reset.exit_code == 0, reset.output
        assert committed(bootstrap, group, topic) == dict.fromkeys(range(PARTITIONS), 0)

        billing.start()
        wait_committed_to_end(bootstrap, group, topic, timeout=120)

    # Every event was read twice; every second reading was absorbed.
    assert db.progress_sums("billing") == counters(2_000, duplicates=2_000)
    assert db.count("billing.ledger") == ledger
    assert db.balances() == balances(batch)


def test_crash_switch_over_http_redelivers_exactly_the_window(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "crash-http", PARTITIONS)
    publish_events(bootstrap, topic, 500, seed=22)

    with running_services(stack, topic, ("audit",)) as procs:
        audit = procs["audit"]
        wait_caught_up(db, bootstrap, topic, procs, 500)
        # What `./fanout crash audit` does: arm the switch; the next batch dies after its commit.
        assert arm_crash(audit.port) == b'{"armed":true}'
        publish_events(bootstrap, topic, 300, seed=23)
        audit.wait_crashed()
        window = db.inbox_count("audit") - sum(committed(bootstrap, audit.group, topic).values())
        assert window > 0
        audit.start()
        wait_caught_up(db, bootstrap, topic, procs, 800)

    assert db.progress_sums("audit") == counters(800, duplicates=window)
    assert db.redelivered() == window


def test_each_role_writes_only_its_own_schema(admin_url: str) -> None:
    with psycopg.connect(role_url(admin_url, "billing")) as conn:
        # Its own inbox, with ON CONFLICT (needs SELECT on the conflict column): allowed.
        conn.execute(
            "INSERT INTO billing.inbox (event_id, fingerprint, partition, kafka_offset,"
            " event_time) VALUES (gen_random_uuid(), '\\x00', 0, 0, now())"
            " ON CONFLICT (event_id) DO NOTHING"
        )
        conn.rollback()
        for sql in (
            "INSERT INTO analytics.type_minute_counts VALUES (now(), 'buy', 1)",
            "SELECT count(*) FROM audit.events",
            "DELETE FROM billing.ledger",
            "CREATE TABLE billing.sneaky (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
            conn.rollback()
    with psycopg.connect(role_url(admin_url, "fanout_reader")) as conn:
        # It reads every service's rows (what the dashboards need), exactly as many as exist.
        expected = Db(admin_url).count("audit.events")
        assert conn.execute("SELECT count(*) FROM audit.events").fetchone() == (expected,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE billing.balances SET balance = 0")
