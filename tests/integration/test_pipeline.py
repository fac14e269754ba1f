"""The fan-out pipeline end to end: real publisher code, real service processes, real
broker and database. Every number asserted is known exactly."""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson

from infra.local.stack import Stack
from tests.support.catalog import SERVICES
from tests.support.db import Db, counters
from tests.support.kafka import PARTITIONS, committed, new_topic, produce
from tests.support.processes import groups_of, running_services
from tests.support.publishing import balances, billable, generate, publish_events
from tests.support.reconcile import (
    check_effects,
    reconcile,
    wait_caught_up,
    wait_persisted,
    wait_reconciled,
)


def test_fan_out_each_service_gets_every_event_once(stack: Stack, clean_db: Db) -> None:
    """Every service: processed 10,000, no duplicate, copy or invalid; persisted offsets =
    committed offsets - 1 on every partition; its inbox holds exactly the published ids; its
    own tables exactly what the batch implies."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "fanout", PARTITIONS)
    batch = publish_events(bootstrap, topic, 10_000, seed=1)

    with running_services(stack, topic) as procs:
        reconcile(db, bootstrap, topic, batch, groups_of(procs), dict.fromkeys(SERVICES, 0))


def test_a_stopped_service_resumes_from_its_committed_offset(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "independent", PARTITIONS)
    first = publish_events(bootstrap, topic, 2_000, seed=2)

    with running_services(stack, topic) as procs:
        billing = procs["billing"]
        wait_caught_up(db, bootstrap, topic, {"billing": billing}, 2_000)
        for name in ("analytics", "audit"):
            wait_persisted(db, name, 2_000, proc=procs[name])
        assert billing.stop() == 0  # SIGTERM: a clean stop

        second = publish_events(bootstrap, topic, 3_000, seed=3)
        for name in ("analytics", "audit"):
            wait_persisted(db, name, 5_000, proc=procs[name])
        # billing is down: its inbox and committed offsets stay where it stopped.
        assert db.inbox_count("billing") == 2_000
        assert sum(committed(bootstrap, billing.group, topic).values()) == 2_000

        billing.start()
        wait_caught_up(db, bootstrap, topic, {"billing": billing}, 5_000)

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
            p.wait_crashed()
        # The window a crash leaves: persisted in the DB, not committed in Kafka.
        window = {}
        for name, p in procs.items():
            window[name] = db.inbox_count(name) - sum(committed(bootstrap, p.group, topic).values())
            assert window[name] > 0, f"{name}'s crash left no persisted-but-uncommitted events"
        for p in procs.values():
            p.start(CRASH_AFTER_BATCH=None)
        wait_caught_up(db, bootstrap, topic, procs, 3_000)

    for name in names:  # every redelivered event was absorbed, none applied twice
        # A redelivery is not a copy.
        assert db.progress_sums(name) == counters(3_000, duplicates=window[name])
    assert db.count("audit.events", "delivery_count = 2") == window["audit"]
    # Every delivery is on record: the first of each applied, each redelivery absorbed.
    assert db.all("SELECT applied, count(*) FROM audit.deliveries GROUP BY 1 ORDER BY 1") == [
        (False, window["audit"]),
        (True, 3_000),
    ]
    check_effects(db, batch, names, redelivered=window["audit"])


def test_new_group_earliest_reads_history_latest_only_new(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offset-reset", PARTITIONS)
    publish_events(bootstrap, topic, 500, seed=5)

    with (
        running_services(stack, topic, ("analytics",), AUTO_OFFSET_RESET="earliest") as early,
        running_services(stack, topic, ("audit",), AUTO_OFFSET_RESET="latest") as late,
    ):
        analytics, audit = early["analytics"], late["audit"]
        analytics.wait_assigned(PARTITIONS)
        audit.wait_assigned(PARTITIONS)
        wait_persisted(db, "analytics", 500, proc=analytics)
        # latest: the new group starts at the log end, so only what comes next reaches it.
        publish_events(bootstrap, topic, 200, seed=6)
        wait_persisted(db, "analytics", 700, proc=analytics)
        wait_reconciled(db, bootstrap, topic, "audit", audit.group, 200, proc=audit)
    assert db.progress_sums("audit") == counters(200)


def test_one_users_events_are_applied_in_publish_order(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "order", PARTITIONS)
    batch = publish_events(bootstrap, topic, 3_000, seed=7, users=5)

    with running_services(stack, topic, ("billing",), BATCH_MAX="100") as procs:
        wait_persisted(db, "billing", 3_000, proc=procs["billing"])

    for user in {e.user_id for e in batch}:
        published = [e.event_id for e in billable(batch) if e.user_id == user]
        sql = "SELECT event_id FROM billing.ledger WHERE user_id = %s ORDER BY seq"
        applied = [i for (i,) in db.all(sql, user)]
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
        wait_caught_up(db, bootstrap, topic, procs, 300)

    for name in SERVICES:
        assert db.progress_sums(name) == counters(300, invalid=3)
    assert db.analytics_totals() == Counter(e["event_type"] for e in seed_events)
    assert db.all("SELECT DISTINCT minute FROM analytics.type_minute_counts") == [
        (db.one("SELECT timestamptz '2020-06-12 21:12:00+00'"),)
    ]
    n_billable = sum(1 for e in seed_events if e["event_type"] in ("buy", "sell"))
    assert db.count("billing.ledger", "user_id = 'anonymous'") == n_billable
