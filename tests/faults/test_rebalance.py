"""Two instances of a service in one consumer group: the second joins, leaves cleanly, joins
again and is SIGKILLed, all mid-stream; then one instance's batch outlasts the poll interval
(a table lock holds it inside its transaction), the group gives its partitions to the other
instance, which reads the same events again. No event is lost or applied twice, and the slow
instance's refused offset commit is harmless."""

from __future__ import annotations

from infra.local.stack import Stack
from infra.polling import wait_for
from shared.events import Event
from tests.support.catalog import STALL_TABLE
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic, partition_of, wait_committed_to_end
from tests.support.processes import (
    LogCursor,
    ServiceProcess,
    groups_of,
    running,
    stopped_at_exit,
)
from tests.support.publishing import BackgroundPublish, generate, publish_list
from tests.support.reconcile import reconcile
from tests.support.sessions import TableLock, lock_waiters
from tests.support.web import health, metric
from tests.support.windows import wait_stalled

COMMIT_REFUSED = "offset commit refused after rebalance"

POLL_INTERVAL_MS = 3_000
ALL = list(range(PARTITIONS))


def wait_split(
    a: ServiceProcess, b: ServiceProcess, timeout: float = 60
) -> tuple[list[int], list[int]]:
    """Both instances own partitions, disjoint, together all of them."""

    def split() -> tuple[list[int], list[int]] | None:
        a.check_alive()
        b.check_alive()
        pa, pb = health(a.port)["positioned"], health(b.port)["positioned"]
        return (pa, pb) if pa and pb and sorted(pa + pb) == ALL else None

    found = wait_for(
        split,
        timeout=timeout,
        what=f"{a.name}'s instances to share the topic",
        interval=0.2,
        detail=lambda: a.log + "\n---\n" + b.log,
    )
    assert found is not None
    return found


def wait_owns_all(p: ServiceProcess, timeout: float = 60) -> None:
    wait_for(
        p.alive_and(lambda: health(p.port)["positioned"] == ALL),
        timeout=timeout,
        what=f"{p.name} ({p.port}) to own every partition",
        interval=0.2,
        detail=lambda: p.log,
    )


def join(procs: dict[str, ServiceProcess], twins: dict[str, ServiceProcess]) -> None:
    """Each second instance joins: the partitions are split between the two."""
    for t in twins.values():
        t.start()
    for n, p in procs.items():
        wait_split(p, twins[n])


def join_leave_rejoin_and_die(
    procs: dict[str, ServiceProcess], twins: dict[str, ServiceProcess], publisher: BackgroundPublish
) -> None:
    # 1. A second instance joins mid-stream: the partitions are split between them.
    join(procs, twins)
    # 2. It leaves cleanly: the first instance owns everything again.
    for t in twins.values():
        assert t.stop() == 0, t.log
    for p in procs.values():
        wait_owns_all(p)
    # 3. It joins again and is SIGKILLed: its partitions come back after the session
    #    timeout, from the offsets it last committed.
    join(procs, twins)
    publisher.wait_sent(8_000)
    for t in twins.values():
        t.kill()
    for p in procs.values():
        wait_owns_all(p)


def outlast_the_poll_interval(
    db: Db, bootstrap: str, topic: str, slow: ServiceProcess, other: ServiceProcess
) -> list[Event]:
    """A batch of ``slow``'s, held inside its transaction by a table lock, outlasts the poll
    interval: the group hands its partitions to ``other``, which reads the same events again.
    Returns the events published for it."""
    mine = set(health(slow.port)["positioned"])
    burst = [
        e
        for e in generate(3_000, users=50, seed=302)
        if partition_of(e.user_id or "", PARTITIONS) in mine
    ][:300]
    # Only billing must stall with rows written (its transaction is followed); audit's
    # batches wait at their inbox, the lock this test passed CI with since migration 0007.
    with TableLock(db, STALL_TABLE["billing"], "audit.inbox") as lock:
        published = publish_list(bootstrap, topic, burst)
        wait_stalled(db, slow, timeout=30)
        # The stalled instance misses its poll interval and leaves the group; the
        # other takes its partitions and reads the same events, then waits too.
        wait_owns_all(other, timeout=60)
        wait_for(
            lambda: len(lock_waiters(db, "billing")) >= 2,
            timeout=30,
            what="the new owner to read the stalled batch again",
        )
        held = lock.held
    print(f"lock held {held:.1f}s (poll interval {POLL_INTERVAL_MS / 1000:.0f}s)")
    return published


def test_two_instances_rebalance_mid_stream_and_survive_a_batch_slower_than_the_poll_interval(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "rebalance", PARTITIONS)
    stream = list(generate(16_000, users=50, seed=301))
    env = {"MAX_POLL_INTERVAL_MS": str(POLL_INTERVAL_MS), "BATCH_MAX": "500"}

    with running(stack, topic, ("billing", "audit"), **env) as procs:
        twins = {n: p.twin() for n, p in procs.items()}
        with stopped_at_exit(*twins.values()):
            for p in procs.values():
                p.wait_assigned(PARTITIONS)
            publisher = BackgroundPublish(bootstrap, topic, stream, rate=2_000).start()
            publisher.wait_sent(2_000)
            join_leave_rejoin_and_die(procs, twins, publisher)
            publisher.join()  # every event acknowledged

            # 4. A batch slower than the poll interval, in billing's first instance.
            join(procs, twins)
            for p in procs.values():  # both idle: the lock below holds the burst's batch only
                wait_committed_to_end(bootstrap, p.group, topic, timeout=120)
            slow = procs["billing"]
            slow_log = LogCursor(slow.log_path)
            refused_before = metric(slow.port, "fanout_commit_failures_total")
            published = outlast_the_poll_interval(db, bootstrap, topic, slow, twins["billing"])
            # Back to two members sharing the topic: nobody is stuck.
            for n, p in procs.items():
                wait_split(p, twins[n])
            refused = metric(slow.port, "fanout_commit_failures_total") - refused_before
            lines = slow_log.count(COMMIT_REFUSED)
            print(f"slow instance: {refused:.0f} commits refused (metric), {lines} logged")
            assert refused == lines
            assert refused >= 1, "the slow instance's stale offset commit was not refused"

            absorbed = reconcile(db, bootstrap, topic, stream + published, groups_of(procs))
            # The new owner read the stalled batch again: those duplicates were absorbed.
            assert absorbed["billing"] >= 1
            assert groups_of(procs) == groups_of(twins)
