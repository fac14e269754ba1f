"""Each guided scenario run through `./fanout scenario run NAME` against the real broker and
database, under the platform's own supervisor: its verdict holds, and its predicted and
measured numbers are the exact ones the database and the broker hold."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path

from infra.local.stack import Stack
from shared.events import Delivery, Event, classify
from tests.support.catalog import SERVICES
from tests.support.db import Db, counters
from tests.support.kafka import PARTITIONS, consume_all, new_topic, unique
from tests.support.processes import FAST, groups_of, running_services
from tests.support.publishing import balances, billable, publish_events
from tests.support.reconcile import wait_caught_up, wait_reconciled
from tests.support.scenarios import run_scenario, supervised, window_events, window_ledger


def test_crash_in_the_window(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-crash", PARTITIONS)
    publish_events(bootstrap, topic, 1_000, seed=61)
    with supervised(stack, topic, ("billing",), tmp_path, **FAST) as sup:
        group = sup.running["billing"].spec.env["CONSUMER_GROUP"]
        wait_reconciled(db, bootstrap, topic, "billing", group, 1_000)
        run = run_scenario("crash-in-the-window", tmp_path)
        assert run.code == 0, run.lines
        assert sup.running["billing"].restarts == 1  # the crash, and one restart by the supervisor

    checks = run.checks()
    window, _ = checks["duplicates absorbed after the restart"]
    # Before the scenario billing had absorbed nothing: every duplicate now is the window's.
    assert 0 < window <= 200
    assert db.progress_sums("billing") == counters(1_200, duplicates=int(window))
    entries, total = window_ledger(db, window_events(run.lines))
    assert checks == {
        "duplicates absorbed after the restart": (window, window),
        "billing ledger entries of the window": (entries, entries),
        "billing ledger total of the window": (total, total),
        "gaps (reconcile)": (0, 0),
    }
    # The whole topic, read back from the broker: every event once in billing's totals.
    events = read_events(bootstrap, topic, 1_200)
    assert db.count("billing.ledger") == len(billable(events))
    assert db.balances() == balances(events)


def test_replay(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-replay", PARTITIONS)
    batch = publish_events(bootstrap, topic, 2_000, seed=62)
    with supervised(stack, topic, ("billing",), tmp_path) as sup:
        group = sup.running["billing"].spec.env["CONSUMER_GROUP"]
        wait_reconciled(db, bootstrap, topic, "billing", group, 2_000)
        run = run_scenario("replay", tmp_path)
        assert run.code == 0, run.lines

    total = sum(balances(batch).values(), Decimal(0))
    entries = len(billable(batch))
    assert run.checks() == {
        "duplicates absorbed by the replay": (2_000, 2_000),
        "billing ledger entries of the replayed events": (entries, entries),
        "billing ledger total of the replayed events": (total, total),
        "gaps (reconcile)": (0, 0),
    }
    assert db.progress_sums("billing") == counters(2_000, duplicates=2_000)
    assert db.balances() == balances(batch)


def test_earliest_vs_latest_with_compose_variables(
    stack: Stack, clean_db: Db, tmp_path: Path
) -> None:
    """No supervisor (as under compose): the publisher's variables say where the topic is."""
    bootstrap = stack.bootstrap
    topic = new_topic(bootstrap, "scn-reset", PARTITIONS)
    publish_events(bootstrap, topic, 500, seed=63)
    run = run_scenario(
        "earliest-vs-latest", tmp_path, KAFKA_BOOTSTRAP_SERVERS=bootstrap, EVENTS_TOPIC=topic
    )
    assert run.code == 0, run.lines
    assert run.checks() == {
        "events the latest group saw": (100, 100),
        "events the earliest group saw": (600, 600),
    }


def test_a_scenario_needing_process_control_says_which_compose_command(
    stack: Stack, tmp_path: Path
) -> None:
    run = run_scenario(
        "crash-in-the-window",
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap,
        EVENTS_TOPIC=unique("scn-none"),
    )
    assert run.code == 2
    assert run.lines == [
        "cannot run here: this step needs process control, which `docker compose up` does not "
        "offer (no `./fanout up` supervisor here); the step is: docker compose kill billing "
        "(restart: unless-stopped revives it)"
    ]


def read_events(bootstrap: str, topic: str, n: int) -> list[Event]:
    values = asyncio.run(consume_all(bootstrap, topic, unique("scn-read"), n, commit=False))
    decoded = [classify(topic, 0, i, v, None) for i, v in enumerate(values)]
    assert all(isinstance(d, Delivery) for d in decoded)
    return [d.event for d in decoded if isinstance(d, Delivery)]


def test_poison_and_redrive(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-poison", PARTITIONS)
    publish_events(bootstrap, topic, 300, seed=64)
    with supervised(stack, topic, SERVICES, tmp_path) as sup:
        for name, r in sup.running.items():
            wait_reconciled(db, bootstrap, topic, name, r.spec.env["CONSUMER_GROUP"], 300)
        run = run_scenario("poison-and-redrive", tmp_path, DATABASE_URL=stack.database_url)
        assert run.code == 0, run.lines
        # Replayed now, the redriven poison is in billing's inbox: absorbed like the rest.
        replay = run_scenario("replay", tmp_path)
        assert replay.code == 0, replay.lines

    assert run.checks() == {
        "billing dead letters of the poison": (1, 1),
        "events behind it billing applied": (10, 10),
        "billing ledger entries of the poison before the fix": (0, 0),
        "billing ledger entries of the poison after the redrive": (1, 1),
        "gaps (reconcile)": (0, 0),
        "analytics applied the poison": (1, 1),
        "analytics dead letters of it": (0, 0),
        "audit applied the poison": (1, 1),
        "audit dead letters of it": (0, 0),
    }
    assert replay.checks()["duplicates absorbed by the replay"] == (311, 311)
    assert db.dead_reasons("billing") == {"handler_error": 1}
    assert db.count("billing.ledger", "amount = 25000.00") == 1
    for name in SERVICES:
        assert db.inbox_count(name) == 311
    assert db.count("analytics.dead_letters") + db.count("audit.dead_letters") == 0
    rules = "SELECT count(*) FROM pg_constraint WHERE conname LIKE 'scenario_limit_%%'"
    assert db.one(rules) == 0  # the fix stays: the rule is gone


def test_each_at_its_own_pace(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-pace", PARTITIONS)
    publish_events(bootstrap, topic, 300, seed=65)
    with supervised(stack, topic, SERVICES, tmp_path) as sup:
        for name, r in sup.running.items():
            wait_reconciled(db, bootstrap, topic, name, r.spec.env["CONSUMER_GROUP"], 300)
        run = run_scenario("each-at-its-own-pace", tmp_path)
        assert run.code == 0, run.lines
        assert all(r.restarts == 0 for r in sup.running.values())  # audit was never stopped

    assert run.checks() == {
        "audit lag growth while held": (200, 200),
        "audit committed offsets moved while held": (0, 0),
        "analytics lag once caught up, audit held": (0, 0),
        "billing lag once caught up, audit held": (0, 0),
        "duplicates absorbed (nothing doubled)": (0, 0),
        "gaps (reconcile)": (0, 0),
    }
    for name in SERVICES:
        assert db.progress_sums(name) == counters(500)


def test_scale_out_and_back(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-scale", PARTITIONS)
    publish_events(bootstrap, topic, 400, seed=66)
    with supervised(stack, topic, ("billing",), tmp_path, **FAST) as sup:
        group = sup.running["billing"].spec.env["CONSUMER_GROUP"]
        wait_reconciled(db, bootstrap, topic, "billing", group, 400)
        run = run_scenario("scale-out-and-back", tmp_path)
        assert run.code == 0, run.lines
        assert list(sup.running) == ["billing"]  # the second instance is gone
        assert sup.running["billing"].restarts == 0

    assert run.checks() == {
        "instances in the group after scaling out": (2, 2),
        "partitions owned by the two together": (PARTITIONS, PARTITIONS),
        "partitions owned by both": (0, 0),
        "instances owning none": (0, 0),
        "partitions the first instance owns after scaling back": (PARTITIONS, PARTITIONS),
        "gaps (reconcile)": (0, 0),
    }
    events = read_events(bootstrap, topic, 1_000)
    assert db.progress_sums("billing")["processed"] == 1_000  # each event applied once
    assert db.count("billing.ledger") == len(billable(events))
    assert db.balances() == balances(events)


def test_poison_and_redrive_without_a_supervisor(
    stack: Stack, clean_db: Db, tmp_path: Path
) -> None:
    """As from the host beside `docker compose up`: no process control is needed, only the
    broker, the database's URLs and the groups (CONSUMER_GROUPS, the publisher's variable)."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-poison-c", PARTITIONS)
    publish_events(bootstrap, topic, 100, seed=67)
    with running_services(stack, topic) as procs:
        wait_caught_up(db, bootstrap, topic, procs, 100)
        run = run_scenario(
            "poison-and-redrive",
            tmp_path,
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            EVENTS_TOPIC=topic,
            DATABASE_URL=stack.database_url,
            READER_DATABASE_URL=stack.reader_url,
            CONSUMER_GROUPS=json.dumps(groups_of(procs)),
        )
        assert run.code == 0, run.lines
    assert run.checks()["billing ledger entries of the poison after the redrive"] == (1, 1)
    assert run.checks()["audit applied the poison"] == (1, 1)
    assert db.dead_reasons("billing") == {"handler_error": 1}


def test_replay_and_pace_with_offsets_in_the_database(
    stack: Stack, clean_db: Db, tmp_path: Path
) -> None:
    """OFFSET_STORE=database: replay moves the group's database offsets too (else the row, the
    authoritative offset, would keep billing where it was), the pause switch leaves the
    partitions database mode pauses to themselves, and a crash leaves no window."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-dbmode", PARTITIONS)
    publish_events(bootstrap, topic, 1_000, seed=68)
    names = ("billing", "audit")
    with supervised(stack, topic, names, tmp_path, OFFSET_STORE="database") as sup:
        for name, r in sup.running.items():
            wait_reconciled(db, bootstrap, topic, name, r.spec.env["CONSUMER_GROUP"], 1_000)
        replay = run_scenario("replay", tmp_path, DATABASE_URL=stack.database_url)
        assert replay.code == 0, replay.lines
        pace = run_scenario("each-at-its-own-pace", tmp_path)
        assert pace.code == 0, pace.lines
        crash = run_scenario("crash-in-the-window", tmp_path)  # the row commits with the batch
        assert crash.code == 0, crash.lines
    assert replay.checks()["duplicates absorbed by the replay"] == (1_000, 1_000)
    assert pace.checks()["audit lag growth while held"] == (200, 200)
    assert pace.checks()["billing lag once caught up, audit held"] == (0, 0)
    assert crash.checks()["duplicates absorbed after the restart"] == (0, 0)  # no window
    assert db.progress_sums("billing") == counters(1_400, duplicates=1_000)
    assert db.progress_sums("audit") == counters(1_400)
