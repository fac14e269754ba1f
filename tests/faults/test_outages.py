"""Infrastructure outages mid-stream: PostgreSQL stopped for 30 s, the broker killed and
restarted. The services pause, retry and recover by themselves; nothing is committed early,
nothing is lost, nothing is applied twice."""

from __future__ import annotations

import time
from collections.abc import Callable

from infra.local.stack import Stack
from shared.events import Event
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, new_topic
from tests.support.processes import ServiceProcess, groups_of, running
from tests.support.publishing import BackgroundPublish, generate, publish_events
from tests.support.reconcile import reconcile, wait_caught_up
from tests.support.web import health, metric
from tests.support.windows import wait_db_up

OUTAGE_S = 30


def hold_for(seconds: float, check: Callable[[], object], interval: float = 0.5) -> int:
    """Assert ``check`` over and over until ``seconds`` have passed (for "must stay unchanged"
    conditions); an assertion fails at once. Returns how many times it was checked."""
    deadline = time.monotonic() + seconds
    checks = 0
    while True:
        check()
        checks += 1
        if time.monotonic() >= deadline:
            return checks
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))  # poll interval


def all_alive(procs: dict[str, ServiceProcess]) -> None:
    for p in procs.values():
        p.check_alive()


def postgres_outage(
    stack: Stack, topic: str, procs: dict[str, ServiceProcess], before: dict
) -> list[Event]:
    """PostgreSQL stopped for OUTAGE_S while events arrive: every service says so, stays up,
    and commits no offset. Returns the events published meanwhile."""
    pg, bootstrap = stack.postgres, stack.bootstrap
    assert pg is not None, "the suite runs its own PostgreSQL"
    try:
        began = time.monotonic()
        pg.stop()
        stop_s = time.monotonic() - began
        # A fast shutdown: it does not wait for the services' pooled connections to close.
        assert stop_s < 15, f"stopping PostgreSQL took {stop_s:.0f}s"
        # Events arrive while the database is down: every service reads them and fails.
        second = publish_events(bootstrap, topic, 4_000, seed=402)
        for p in procs.values():
            wait_db_up(p, False, timeout=30)
            assert health(p.port)["status"] == 503
            assert metric(p.port, "fanout_db_up") == 0

        def nothing_committed() -> None:
            for name, p in procs.items():
                p.check_alive()
                assert committed(bootstrap, p.group, topic) == before[name], (
                    f"{name} committed offsets while the database was down"
                )
                assert health(p.port)["db_up"] is False

        reads = hold_for(OUTAGE_S - (time.monotonic() - began), nothing_committed, 1.0)
        assert reads >= 2
        down_s = time.monotonic() - began
    finally:
        if pg.process is None or pg.process.poll() is not None:
            pg.start()
    print(f"postgres stop took {stop_s:.1f}s; down {down_s:.1f}s; offsets read {reads} times")
    return second


def test_postgres_down_30s_services_pause_commit_nothing_and_recover(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "pg-outage", PARTITIONS)
    first = publish_events(bootstrap, topic, 4_000, seed=401)

    with running(stack, topic, BATCH_MAX="500") as procs:
        before = wait_caught_up(db, bootstrap, topic, procs, 4_000)
        errors = {name: metric(p.port, "fanout_db_errors_total") for name, p in procs.items()}
        second = postgres_outage(stack, topic, procs, before)
        for name, p in procs.items():  # recovered by themselves, no restart
            wait_db_up(p, True, timeout=60)
            assert metric(p.port, "fanout_db_errors_total") > errors[name]
            assert metric(p.port, "fanout_db_up") == 1
        # Nothing was persisted during the outage, so nothing is redelivered after it.
        reconcile(db, bootstrap, topic, first + second, groups_of(procs), dict.fromkeys(procs, 0))


def test_broker_killed_and_restarted_mid_stream(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "broker-restart", PARTITIONS)
    stream = list(generate(20_000, users=50, seed=501))

    with running(stack, topic) as procs:
        for p in procs.values():
            p.wait_assigned(PARTITIONS)
        publisher = BackgroundPublish(bootstrap, topic, stream, rate=2_000).start()
        publisher.wait_sent(6_000)
        node = stack.kafka.members[0]
        try:
            stack.kafka.kill_node(node)
            assert node.process is not None and node.process.returncode == -9
            at_kill = {name: db.inbox_count(name) for name in procs}
            # The broker is gone for a while: nobody crashes, nobody can commit.
            hold_for(5, lambda: all_alive(procs))
        finally:
            if node.process is None or node.process.poll() is not None:
                stack.kafka.start_node(node)
            stack.kafka.wait_ready()
        # acks=all + idempotence: every send was retried through the outage, none failed.
        result = publisher.join()
        print(f"publisher: {result}; persisted at the kill: {at_kill}")
        absorbed = reconcile(db, bootstrap, topic, stream, groups_of(procs))
        for name, p in procs.items():
            assert p.process is not None and p.process.poll() is None, f"{name} died"
        print(f"absorbed after the broker restart: {absorbed}")
