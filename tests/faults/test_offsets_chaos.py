"""The kafka-mode guarantee tests, in database mode: seeded random SIGKILLs while consuming,
two instances joining, leaving and dying mid-stream, the broker killed and restarted. Where
kafka mode absorbs each crash's window, database mode redelivers nothing at all: every count
exact, 0 duplicates absorbed."""

from __future__ import annotations

from contextlib import ExitStack

from infra.local.stack import Stack
from tests.faults.test_kill import kill_after, kill_plan
from tests.faults.test_outages import all_alive, hold_for
from tests.faults.test_rebalance import POLL_INTERVAL_MS, join_leave_rejoin_and_die
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic
from tests.support.processes import ServiceProcess, groups_of, running, stopped_at_exit
from tests.support.publishing import BackgroundPublish, generate, publish_events
from tests.support.reconcile import reconcile
from tests.support.windows import Window


def test_sigkill_at_random_moments_in_database_mode_redelivers_nothing(
    stack: Stack, clean_db: Db
) -> None:
    """test_kill's seeded schedule (each service killed twice, mid-transaction when one is
    open), database mode, large, default and small batches: each kill either rolls its batch
    back or lands after a commit that moved the offsets too, so nothing is ever read twice."""
    db, bootstrap = clean_db, stack.bootstrap
    plan = kill_plan(424_243)
    topic = new_topic(bootstrap, "offsets-db-kill", PARTITIONS)
    backlog = publish_events(bootstrap, topic, 8_000, seed=2201)
    stream = list(generate(20_000, users=50, seed=2202))
    total = len(backlog) + len(stream)
    sizes = {"analytics": "5000", "billing": "2000", "audit": "20"}

    with ExitStack() as es:
        procs: dict[str, ServiceProcess] = {}
        for name in SERVICES:
            env = {"BATCH_MAX": sizes[name], "OFFSET_STORE": "database"}
            procs |= es.enter_context(running(stack, topic, (name,), **env))
        publisher = BackgroundPublish(bootstrap, topic, stream, rate=2_000).start()
        windows: dict[str, list[Window]] = {n: [] for n in SERVICES}
        hits = [
            kill_after(db, bootstrap, topic, procs[name], more, total, windows[name])
            for name, more in plan
        ]
        print("kills (windows are Kafka's mirror behind the rows):", hits)
        publisher.join()
        reconcile(db, bootstrap, topic, backlog + stream, groups_of(procs), dict.fromkeys(procs, 0))


def test_two_instances_join_leave_and_die_mid_stream_in_database_mode(
    stack: Stack, clean_db: Db
) -> None:
    """test_rebalance's membership changes (a second instance joins, leaves cleanly, joins
    again and is SIGKILLed) on a live stream, database mode: each move of a partition is a
    claim from the row, so no event is read twice, none lost."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-db-rebalance", PARTITIONS)
    stream = list(generate(12_000, users=50, seed=2203))
    env = {"MAX_POLL_INTERVAL_MS": str(POLL_INTERVAL_MS), "BATCH_MAX": "500"}

    with running(stack, topic, ("billing", "audit"), OFFSET_STORE="database", **env) as procs:
        twins = {n: p.twin() for n, p in procs.items()}
        with stopped_at_exit(*twins.values()):
            for p in procs.values():
                p.wait_assigned(PARTITIONS)
            publisher = BackgroundPublish(bootstrap, topic, stream, rate=2_000).start()
            publisher.wait_sent(2_000)
            join_leave_rejoin_and_die(procs, twins, publisher)
            publisher.join()
            reconcile(db, bootstrap, topic, stream, groups_of(procs), dict.fromkeys(procs, 0))


def test_broker_killed_and_restarted_mid_stream_in_database_mode(
    stack: Stack, clean_db: Db
) -> None:
    """test_outages' broker restart, database mode: nobody crashes while the broker is away (a
    Kafka mirror that fails then is harmless: the rows are the offsets), the services claim
    what the group gives them again, and nothing is read twice."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-db-broker", PARTITIONS)
    stream = list(generate(12_000, users=50, seed=2204))

    with running(stack, topic, OFFSET_STORE="database") as procs:
        for p in procs.values():
            p.wait_assigned(PARTITIONS)
        publisher = BackgroundPublish(bootstrap, topic, stream, rate=2_000).start()
        publisher.wait_sent(4_000)
        node = stack.kafka.members[0]
        try:
            stack.kafka.kill_node(node)
            hold_for(5, lambda: all_alive(procs))
        finally:
            if node.process is None or node.process.poll() is not None:
                stack.kafka.start_node(node)
            stack.kafka.wait_ready()
        publisher.join()
        reconcile(db, bootstrap, topic, stream, groups_of(procs), dict.fromkeys(procs, 0))
