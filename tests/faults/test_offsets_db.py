"""OFFSET_STORE=database against the real broker and database: each partition's next offset
lives in the service's own transaction, so the crash between the database commit and the Kafka
commit redelivers nothing; a zombie instance is fenced; a database down at assignment never
makes a consumer read from Kafka's (wrong) offset."""

from __future__ import annotations

import asyncio
from collections import Counter

from infra.cli.reconcile import snapshot
from infra.local.stack import Stack
from infra.ops import groups as groups_ops
from infra.ops.dlq import read_dead_letters
from shared.settings import dlq_topic
from tests.badinput import bad
from tests.faults.test_outages import hold_for
from tests.faults.test_rebalance import POLL_INTERVAL_MS, outlast_the_poll_interval, wait_split
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, new_topic, produce, wait_committed_to_end
from tests.support.processes import LogCursor, ServiceProcess, groups_of, running, stopped_at_exit
from tests.support.publishing import generate, publish_events
from tests.support.reconcile import assert_reconciles, reconcile, wait_caught_up
from tests.support.web import health, metric
from tests.support.windows import crash_window, wait_db_up

FENCED = "fenced: transaction refused"


def rows_match_progress(db: Db, p: ServiceProcess, topic: str) -> dict[int, int]:
    """The row of every partition is one past what the database decided on it: the offset and
    the data were committed together. Returns the rows."""
    stored = db.stored_offsets(p.name, p.group, topic)
    decided = {part: off + 1 for part, off in db.persisted_offsets(p.name, topic).items()}
    assert {part: stored[part] for part in decided} == decided, (stored, decided)
    return stored


def test_crash_between_db_commit_and_kafka_commit_redelivers_nothing(
    stack: Stack, clean_db: Db
) -> None:
    """The crash switch (os._exit right after the third batch's DB commit, before the Kafka
    commit) in all three services in database mode: Kafka's offsets are behind (a window a
    kafka-mode restart would redeliver), the rows are not; after the restart 0 duplicates are
    absorbed, none lost, and Kafka's mirror catches up to the log end."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-db-crash", PARTITIONS)
    batch = publish_events(bootstrap, topic, 6_000, seed=2001)

    with running(
        stack, topic, CRASH_AFTER_BATCH="3", BATCH_MAX="300", OFFSET_STORE="database"
    ) as procs:
        windows = {}
        for name, p in procs.items():
            p.wait_crashed()
            windows[name] = crash_window(db, bootstrap, p, topic)
            assert windows[name].size > 0, f"{name}'s crash left Kafka's mirror up to date"
            rows_match_progress(db, p, topic)
        # Reconcile's committed offset is the row: nothing persisted above it, no window.
        recons = asyncio.run(snapshot(bootstrap, stack.reader_url, topic, groups_of(procs)))
        for r in recons:
            assert r.reconciled and r.window == 0, (r.service, r.gaps, r.window)
            assert r.committed == sum(db.stored_offsets(r.service, r.group, topic).values())
        for p in procs.values():
            p.start(CRASH_AFTER_BATCH=None)
        print({n: f"Kafka mirror {w.size} behind at the crash" for n, w in windows.items()})
        reconcile(db, bootstrap, topic, batch, groups_of(procs), dict.fromkeys(procs, 0))
        for p in procs.values():
            stored = rows_match_progress(db, p, topic)
            assert wait_committed_to_end(bootstrap, p.group, topic) == stored
            assert committed(bootstrap, p.group, topic) == stored


def test_a_zombie_instance_is_fenced_and_exactly_one_writes_each_batch(
    stack: Stack, clean_db: Db
) -> None:
    """Two billing instances in database mode; one's batch is held inside its transaction (a
    table lock) past max.poll.interval.ms, the group gives its partitions to the other, which
    claims them (a new epoch) and reads the same events. When the lock goes, the zombie's
    compare-and-set matches no row: its transaction is refused and counted, the new owner's
    commits. Every batch written once: 0 duplicates absorbed, the result exact."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-db-fence", PARTITIONS)
    first = publish_events(bootstrap, topic, 2_000, seed=2002)
    env = {"MAX_POLL_INTERVAL_MS": str(POLL_INTERVAL_MS), "BATCH_MAX": "500"}

    with running(stack, topic, ("billing",), OFFSET_STORE="database", **env) as procs:
        slow = procs["billing"]
        other = slow.twin()
        with stopped_at_exit(other):
            wait_caught_up(db, bootstrap, topic, procs, 2_000)
            other.start()
            wait_split(slow, other)
            log, before = LogCursor(slow.log_path), metric(slow.port, "fanout_fenced_total")
            published = outlast_the_poll_interval(db, bootstrap, topic, slow, other)
            wait_split(slow, other)  # the zombie rejoined: nobody is stuck
            fenced = metric(slow.port, "fanout_fenced_total") - before
            print(f"zombie: {fenced:.0f} transactions fenced, {log.count(FENCED)} logged")
            assert fenced >= 1, "the zombie's transaction was not refused"
            assert fenced == log.count(FENCED)
            reconcile(db, bootstrap, topic, first + published, groups_of(procs), {"billing": 0})
            rows_match_progress(db, slow, topic)


def test_postgres_down_at_assignment_reads_nothing_until_the_stored_offset_is_back(
    stack: Stack, clean_db: Db
) -> None:
    """Kafka's committed offsets are made wrong (back to the earliest) while the rows hold the
    truth; the services start with PostgreSQL stopped, so every partition is assigned while
    the database is down. They stay paused — no batch is even attempted, /health says
    nothing is positioned — and once the database is back they seek to the stored offsets:
    only the new events are read (0 duplicates, where Kafka's offset would redeliver all)."""
    db, bootstrap, pg = clean_db, stack.bootstrap, stack.postgres
    assert pg is not None, "the suite runs its own PostgreSQL"
    topic = new_topic(bootstrap, "offsets-db-pg-down", PARTITIONS)
    first = publish_events(bootstrap, topic, 3_000, seed=2003)
    with running(stack, topic, ("billing", "audit"), OFFSET_STORE="database") as procs:
        wait_caught_up(db, bootstrap, topic, procs, 3_000)
        for p in procs.values():
            assert p.stop() == 0, p.log
            reset_kafka_only(bootstrap, p.group, topic)
        try:
            pg.stop()
            second = publish_events(bootstrap, topic, 2_000, seed=2004)
            for p in procs.values():
                p.start()
                wait_db_up(p, False, timeout=60)  # the claim failed: assigned, not positioned
            hold_for(8, lambda: paused_while_down(procs))
        finally:
            if pg.process is None or pg.process.poll() is not None:
                pg.start()
        reconcile(db, bootstrap, topic, first + second, groups_of(procs), dict.fromkeys(procs, 0))


def reset_kafka_only(bootstrap: str, group: str, topic: str) -> None:
    """Kafka's committed offsets to the earliest, the rows untouched (not `reset-offsets`)."""
    moves = asyncio.run(groups_ops.plan_reset(bootstrap, group, topic, "earliest"))
    asyncio.run(groups_ops.apply_reset(bootstrap, group, topic, moves))
    assert set(committed(bootstrap, group, topic).values()) == {0}


def paused_while_down(procs: dict[str, ServiceProcess]) -> None:
    for name, p in procs.items():
        p.check_alive()
        h = health(p.port)
        assert h["db_up"] is False and h["positioned"] == [], f"{name}: {h}"
        assert len(h["assigned"]) == PARTITIONS, f"{name}: {h}"
        assert metric(p.port, "fanout_transactions_total") == 0, f"{name} fetched and tried"


def test_dead_letters_reach_the_topic_in_database_mode(stack: Stack, clean_db: Db) -> None:
    """Database mode sends a batch's dead letters before its commit (a batch is never read
    again to send them): each invalid event is on every service's dead-letter topic, once."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-db-dlq", 1)
    good = [e.to_json() for e in generate(40, seed=2005)]
    hostile = [bad(event_type="jump"), b"not json"]
    values = [*good[:20], hostile[0], *good[20:], hostile[1]]
    assert asyncio.run(produce(bootstrap, topic, values)) == 42
    with running(stack, topic, OFFSET_STORE="database") as procs:
        wait_caught_up(db, bootstrap, topic, procs, 40)
        assert_reconciles(stack.reader_url, bootstrap, topic, groups_of(procs))
        for name in procs:
            letters = asyncio.run(read_dead_letters(bootstrap, dlq_topic(topic, name)))
            assert Counter(x.value for x in letters) == Counter(hostile), name
            assert db.stored_offsets(name, procs[name].group, topic) == {0: 42}
