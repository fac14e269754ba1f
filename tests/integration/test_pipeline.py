"""The fan-out pipeline end to end: real publisher code, real service processes, real
broker and database. Every number asserted is known exactly."""

from __future__ import annotations

import asyncio

import orjson

from infra.stack import Stack
from services.publisher.generator import events as generate
from shared.broker import committed_offsets
from shared.consumer import CRASH_EXIT_CODE
from tests.db import Db
from tests.helpers import new_topic, produce
from tests.pipeline import (
    balances,
    publish_events,
    type_totals,
    wait_committed_to_end,
    wait_persisted,
)
from tests.services import SERVICES, running_services

PARTITIONS = 6


def test_fan_out_each_service_gets_every_event_once(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "fanout", PARTITIONS)
    batch = publish_events(bootstrap, topic, 10_000, seed=1)

    with running_services(stack, topic) as procs:
        for name, p in procs.items():
            wait_persisted(db, name, 10_000, proc=p)
        ends = {
            n: wait_committed_to_end(bootstrap, p.env["CONSUMER_GROUP"], topic)
            for n, p in procs.items()
        }

    assert all(sum(e.values()) == 10_000 for e in ends.values())
    for name in SERVICES:
        assert db.progress_sums(name) == {
            "processed": 10_000,
            "duplicates": 0,
            "copies": 0,
            "invalid": 0,
        }
        # Persisted offsets per partition = committed offsets - 1: nothing in between.
        assert db.persisted_offsets(name) == {p: off - 1 for p, off in ends[name].items()}
    assert db.analytics_totals() == type_totals(batch)
    assert db.balances() == balances(batch)
    assert db.one("SELECT count(*) FROM audit.events") == 10_000
    assert db.redelivered() == 0
    ids = {str(e.event_id) for e in batch}
    assert {str(r[0]) for r in db.all("SELECT event_id FROM billing.inbox")} == ids


def test_a_stopped_service_resumes_from_its_committed_offset(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "independent", PARTITIONS)
    first = publish_events(bootstrap, topic, 2_000, seed=2)

    with running_services(stack, topic) as procs:
        for name, p in procs.items():
            wait_persisted(db, name, 2_000, proc=p)
        billing = procs["billing"]
        wait_committed_to_end(bootstrap, billing.env["CONSUMER_GROUP"], topic)
        assert billing.stop() == 0  # SIGTERM: a clean stop

        second = publish_events(bootstrap, topic, 3_000, seed=3)
        for name in ("analytics", "audit"):
            wait_persisted(db, name, 5_000, proc=procs[name])
        # billing is down: its inbox and committed offsets stay where it stopped.
        assert db.inbox_count("billing") == 2_000
        committed = asyncio.run(committed_offsets(bootstrap, billing.env["CONSUMER_GROUP"], topic))
        assert sum(committed.values()) == 2_000

        billing.start()
        wait_persisted(db, "billing", 5_000, proc=billing)
        wait_committed_to_end(bootstrap, billing.env["CONSUMER_GROUP"], topic)

    for name in SERVICES:  # nothing was read twice, by the healthy services or by billing
        assert db.progress_sums(name)["duplicates"] == 0
    assert db.balances() == balances(first + second)


def test_crash_between_db_commit_and_offset_commit_is_absorbed(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "crash", PARTITIONS)
    batch = publish_events(bootstrap, topic, 3_000, seed=4)
    names = ("billing", "audit")

    with running_services(stack, topic, names, CRASH_AFTER_BATCH="3", BATCH_MAX="250") as procs:
        for p in procs.values():
            assert p.wait_exit() == CRASH_EXIT_CODE
        # The window a crash leaves: persisted in the DB, not committed in Kafka.
        window = {}
        for name, p in procs.items():
            committed = asyncio.run(committed_offsets(bootstrap, p.env["CONSUMER_GROUP"], topic))
            window[name] = db.inbox_count(name) - sum(committed.values())
            assert window[name] > 0, f"{name}'s crash left no persisted-but-uncommitted events"
        for p in procs.values():
            p.start(CRASH_AFTER_BATCH=None)
        for name, p in procs.items():
            wait_persisted(db, name, 3_000, proc=p)
            wait_committed_to_end(bootstrap, p.env["CONSUMER_GROUP"], topic)

    for name in names:  # every redelivered event was absorbed, none applied twice
        assert db.progress_sums(name) == {
            "processed": 3_000,
            "duplicates": window[name],
            "copies": 0,  # a redelivery is not a copy
            "invalid": 0,
        }
    assert db.redelivered() == window["audit"]
    assert db.one("SELECT count(*) FROM audit.events WHERE delivery_count = 2") == window["audit"]
    # Every delivery is on record: the first of each applied, each redelivery absorbed.
    assert db.all("SELECT applied, count(*) FROM audit.deliveries GROUP BY 1 ORDER BY 1") == [
        (False, window["audit"]),
        (True, 3_000),
    ]
    assert db.balances() == balances(batch)
    assert db.one("SELECT count(*) FROM billing.ledger") == sum(
        1 for e in batch if e.event_type in ("buy", "sell")
    )


def test_new_group_earliest_reads_history_latest_only_new(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offset-reset", PARTITIONS)
    publish_events(bootstrap, topic, 500, seed=5)

    with (
        running_services(stack, topic, ("analytics",), AUTO_OFFSET_RESET="earliest") as early,
        running_services(stack, topic, ("audit",), AUTO_OFFSET_RESET="latest") as late,
    ):
        early["analytics"].wait_assigned(PARTITIONS)
        late["audit"].wait_assigned(PARTITIONS)
        wait_persisted(db, "analytics", 500, proc=early["analytics"])
        # latest: the new group starts at the log end, so only what comes next reaches it.
        publish_events(bootstrap, topic, 200, seed=6)
        wait_persisted(db, "analytics", 700, proc=early["analytics"])
        wait_persisted(db, "audit", 200, proc=late["audit"])
        wait_committed_to_end(bootstrap, late["audit"].env["CONSUMER_GROUP"], topic)
    assert db.progress_sums("audit") == {
        "processed": 200,
        "duplicates": 0,
        "copies": 0,
        "invalid": 0,
    }


def test_one_users_events_are_applied_in_publish_order(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "order", PARTITIONS)
    batch = publish_events(bootstrap, topic, 3_000, seed=7, users=5)

    with running_services(stack, topic, ("billing",), BATCH_MAX="100") as procs:
        wait_persisted(db, "billing", 3_000, proc=procs["billing"])

    for user in {e.user_id for e in batch}:
        published = [
            str(e.event_id) for e in batch if e.user_id == user and e.event_type in ("buy", "sell")
        ]
        applied = [
            str(r[0])
            for r in db.all(
                "SELECT event_id FROM billing.ledger WHERE user_id = %s ORDER BY seq", user
            )
        ]
        assert applied == published, f"{user}'s ledger is out of publish order"


def test_seed_event_shape_is_accepted_and_invalid_events_skipped(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "seed", 1)  # one partition: the bad events sit between good ones
    seed_events = [
        {
            "event_id": str(e.event_id),
            "event_datetime": "2020-06-12-21-12-27",
            "event_type": e.event_type,
        }
        for e in generate(300, seed=8)
    ]
    values = [orjson.dumps(e) for e in seed_events]
    values[10:10] = [b"not json", b'{"event_id": "nope"}', b"[]"]  # 3 invalid, mid-stream
    assert asyncio.run(produce(bootstrap, topic, values)) == 303  # no key, as the seed sends

    with running_services(stack, topic) as procs:
        for name, p in procs.items():
            wait_persisted(db, name, 300, proc=p)
            wait_committed_to_end(bootstrap, p.env["CONSUMER_GROUP"], topic)

    for name in SERVICES:
        assert db.progress_sums(name) == {
            "processed": 300,
            "duplicates": 0,
            "copies": 0,
            "invalid": 3,
        }
    expected = {}
    for e in seed_events:
        expected[e["event_type"]] = expected.get(e["event_type"], 0) + 1
    assert dict(db.analytics_totals()) == expected
    assert db.all("SELECT DISTINCT minute FROM analytics.type_minute_counts") == [
        (db.one("SELECT timestamptz '2020-06-12 21:12:00+00'"),)
    ]
    n_billable = sum(1 for e in seed_events if e["event_type"] in ("buy", "sell"))
    assert db.one("SELECT count(*) FROM billing.ledger WHERE user_id = 'anonymous'") == n_billable
