"""Replay with proof, the crash switch behind `./fanout crash`, and least privilege."""

from __future__ import annotations

import asyncio
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.stack import Stack
from shared.consumer import CRASH_EXIT_CODE
from shared.kafka_admin import committed_offsets
from shared.local_only import crash_request
from tests.db import Db
from tests.helpers import new_topic
from tests.pipeline import balances, publish_events, wait_committed_to_end, wait_persisted
from tests.services import running_services

PARTITIONS = 6


def test_replay_from_earliest_leaves_totals_unchanged(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "replay", PARTITIONS)
    batch = publish_events(bootstrap, topic, 2_000, seed=21)

    with running_services(stack, topic, ("billing",)) as procs:
        billing = procs["billing"]
        group = billing.env["CONSUMER_GROUP"]
        wait_persisted(db, "billing", 2_000, proc=billing)
        wait_committed_to_end(bootstrap, group, topic)
        assert billing.stop() == 0
        ledger = db.one("SELECT count(*) FROM billing.ledger")

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
        committed = asyncio.run(committed_offsets(bootstrap, group, topic))
        assert committed == dict.fromkeys(range(PARTITIONS), 0)

        billing.start()
        wait_committed_to_end(bootstrap, group, topic, timeout=120)

    # Every event was read twice; every second reading was absorbed.
    assert db.progress_sums("billing") == {"processed": 2_000, "duplicates": 2_000, "invalid": 0}
    assert db.one("SELECT count(*) FROM billing.ledger") == ledger
    assert db.balances() == balances(batch)


def test_crash_switch_over_http_redelivers_exactly_the_window(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "crash-http", PARTITIONS)
    publish_events(bootstrap, topic, 500, seed=22)

    with running_services(stack, topic, ("audit",)) as procs:
        audit = procs["audit"]
        group = audit.env["CONSUMER_GROUP"]
        wait_persisted(db, "audit", 500, proc=audit)
        wait_committed_to_end(bootstrap, group, topic)
        # What `./fanout crash audit` does: arm the switch; the next batch dies after its commit.
        with urllib.request.urlopen(crash_request(audit.port), timeout=5) as answer:
            assert answer.read() == b'{"armed":true}'
        publish_events(bootstrap, topic, 300, seed=23)
        assert audit.wait_exit() == CRASH_EXIT_CODE
        window = db.inbox_count("audit") - sum(
            asyncio.run(committed_offsets(bootstrap, group, topic)).values()
        )
        assert window > 0
        audit.start()
        wait_persisted(db, "audit", 800, proc=audit)
        wait_committed_to_end(bootstrap, group, topic)

    assert db.progress_sums("audit") == {"processed": 800, "duplicates": window, "invalid": 0}
    assert db.redelivered() == window


def as_role(admin_url: str, role: str, password: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}"))


def test_each_role_writes_only_its_own_schema(admin_url: str) -> None:
    with psycopg.connect(as_role(admin_url, "billing", "billing")) as conn:
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
    with psycopg.connect(as_role(admin_url, "fanout_reader", "fanout_reader")) as conn:
        assert conn.execute("SELECT count(*) >= 0 FROM audit.events").fetchone() == (True,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE billing.balances SET balance = 0")
