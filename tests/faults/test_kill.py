"""SIGKILL and hard exits of the real service processes, at every point of a batch:
mid-transaction, at random moments while consuming, and between the DB commit and the offset
commit. Each ends with an exact reconcile: 0 lost, 0 applied twice, and the duplicates absorbed
equal to the events the crash left persisted-but-uncommitted (its window)."""

from __future__ import annotations

import random
from contextlib import ExitStack

from infra.local.stack import Stack
from tests.support.catalog import SERVICES, STALL_TABLE
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic
from tests.support.processes import ServiceProcess, groups_of, running
from tests.support.publishing import BackgroundPublish, generate, publish_events
from tests.support.reconcile import reconcile, wait_caught_up, wait_progress
from tests.support.sessions import TableLock, wait_open_tx, xact_status
from tests.support.web import arm_crash
from tests.support.windows import (
    Window,
    crash_window,
    freeze_in_window,
    wait_stalled,
    wait_window_read,
    window_sizes,
)


def test_sigkill_mid_transaction_rolls_the_batch_back(stack: Stack, clean_db: Db) -> None:
    """Each service is killed while a batch sits inside its open transaction (inbox rows
    written, the next write blocked on a table lock): PostgreSQL rolls it back, nothing of it
    stays, the restart reads it again as new events."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "kill-mid-tx", PARTITIONS)
    first = publish_events(bootstrap, topic, 3_000, seed=101)

    with running(stack, topic, BATCH_MAX="1000") as procs:
        wait_caught_up(db, bootstrap, topic, procs, 3_000)
        stuck: dict[str, list[str]] = {}
        with TableLock(db, *STALL_TABLE.values()):
            second = publish_events(bootstrap, topic, 4_000, seed=102)
            for name, p in procs.items():
                stuck[name] = wait_stalled(db, p)
                p.kill()
        windows: dict[str, Window] = {}
        for name, p in procs.items():
            windows[name] = crash_window(db, bootstrap, p, topic)
            # The transaction in flight at the kill was rolled back, not committed.
            assert [xact_status(db, x) for x in stuck[name]] == ["aborted"] * len(stuck[name])
            assert db.inbox_count(name) == 3_000
            assert db.progress_sums(name)["processed"] == 3_000
            # The batch before it had finished all seven steps: nothing is redelivered.
            assert windows[name].size == 0
        print({n: f"killed mid-transaction {x}" for n, x in stuck.items()})
        for p in procs.values():
            p.start()
        reconcile(
            db, bootstrap, topic, first + second, groups_of(procs), duplicates=window_sizes(windows)
        )


def kill_plan(seed: int) -> list[tuple[str, int]]:
    """Each service killed twice, in a seeded order, each kill after N more events."""
    rng = random.Random(seed)
    schedule = [name for name in SERVICES for _ in range(2)]
    rng.shuffle(schedule)
    plan = [(name, rng.randint(300, 5_000)) for name in schedule]
    print(f"seed {seed}; schedule (service, kill after N more events): {plan}")
    return plan


def kill_after(
    db: Db,
    bootstrap: str,
    topic: str,
    p: ServiceProcess,
    more: int,
    total: int,
    windows: list[Window],
) -> str:
    """SIGKILL ``p`` once it persisted ``more`` events (a batch transaction open, if one
    shows within 3 s), record its crash window, restart it; returns what the kill hit."""
    if windows:  # its last window is read again: a clean slate for counting
        wait_window_read(db, bootstrap, topic, p, windows[-1])
    wait_progress(db, p, min(total, db.inbox_count(p.name) + more), timeout=120)
    xids = wait_open_tx(db, p.name, timeout=3)  # none: the kill lands between batches
    p.kill()
    w = crash_window(db, bootstrap, p, topic)
    windows.append(w)
    status = [xact_status(db, x) for x in xids]
    hit = f"{p.name}@{db.inbox_count(p.name)}: tx {status or 'none'}, window {w.size}"
    p.start()
    return hit


def test_sigkill_at_random_moments_while_consuming(stack: Stack, clean_db: Db) -> None:
    """Seeded random SIGKILLs while the services consume a backlog and a live stream, with
    large (5000), default (2000) and small (20) batches: each kill waits a random number of
    events, then strikes while a batch transaction is open when one shows up within 3 s.
    A service is killed again only after it has read its previous crash window again, so the
    duplicates expected are exactly the sum of its windows."""
    db, bootstrap = clean_db, stack.bootstrap
    plan = kill_plan(424_242)
    topic = new_topic(bootstrap, "kill-random", PARTITIONS)
    backlog = publish_events(bootstrap, topic, 10_000, seed=103)
    stream = list(generate(30_000, users=50, seed=107))
    total = len(backlog) + len(stream)
    sizes = {"analytics": "5000", "billing": "2000", "audit": "20"}

    with ExitStack() as es:
        procs: dict[str, ServiceProcess] = {}
        for name in SERVICES:
            procs |= es.enter_context(running(stack, topic, (name,), BATCH_MAX=sizes[name]))
        publisher = BackgroundPublish(bootstrap, topic, stream, rate=2_000).start()
        windows: dict[str, list[Window]] = {n: [] for n in SERVICES}
        hits = [
            kill_after(db, bootstrap, topic, procs[name], more, total, windows[name])
            for name, more in plan
        ]
        print("kills:", hits)
        publisher.join()  # every event acknowledged
        reconcile(db, bootstrap, topic, backlog + stream, groups_of(procs), window_sizes(windows))


def test_crash_switch_between_db_commit_and_offset_commit(stack: Stack, clean_db: Db) -> None:
    """The crash switch CRASH_AFTER_BATCH (os._exit right after the third batch's DB commit)
    in all three services: each leaves a window > 0, which the restart redelivers and the
    inbox absorbs exactly."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "crash-switch", PARTITIONS)
    batch = publish_events(bootstrap, topic, 6_000, seed=104)

    with running(stack, topic, CRASH_AFTER_BATCH="3", BATCH_MAX="300") as procs:
        windows = {}
        for name, p in procs.items():
            p.wait_crashed()
            windows[name] = crash_window(db, bootstrap, p, topic)
            assert windows[name].size > 0, f"{name}'s crash left no window"
        for p in procs.values():
            p.start(CRASH_AFTER_BATCH=None)
        print({n: w.size for n, w in windows.items()})
        reconcile(db, bootstrap, topic, batch, groups_of(procs), duplicates=window_sizes(windows))


def test_crash_endpoint_arms_the_switch_mid_stream(stack: Stack, clean_db: Db) -> None:
    """POST /crash (what `./fanout crash SERVICE` sends) arms the switch on a running service:
    its next batch dies after the DB commit; the restart absorbs the window exactly."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "crash-endpoint", PARTITIONS)
    batch = publish_events(bootstrap, topic, 6_000, seed=106)

    with running(stack, topic, ("audit",), BATCH_MAX="200") as procs:
        audit = procs["audit"]
        wait_progress(db, audit, 400)
        assert arm_crash(audit.port) == b'{"armed":true}'
        audit.wait_crashed()
        window = crash_window(db, bootstrap, audit, topic)
        assert 0 < window.size <= 200
        audit.start()
        reconcile(db, bootstrap, topic, batch, groups_of(procs), duplicates={"audit": window.size})


def test_sigkill_between_db_commit_and_offset_commit(stack: Stack, clean_db: Db) -> None:
    """A real SIGKILL inside the window: each service is frozen (SIGSTOP) the moment one of
    its batch transactions commits, checked to be inside the window (no transaction open, the
    database ahead of the broker), and SIGKILLed there."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "kill-window", PARTITIONS)
    batch = publish_events(bootstrap, topic, 20_000, seed=105)
    names = ("billing", "audit")

    with ExitStack() as es:
        procs: dict[str, ServiceProcess] = {}
        windows: dict[str, Window] = {}
        for name in names:  # one after the other: each meets a full backlog
            procs |= es.enter_context(running(stack, topic, (name,), BATCH_MAX="100"))
            p = procs[name]
            caught = freeze_in_window(db, bootstrap, topic, p, timeout=60)
            assert caught is not None, f"{name} was never frozen inside its window"
            seen, attempts = caught
            p.kill()  # SIGKILL ends a stopped process too
            windows[name] = crash_window(db, bootstrap, p, topic)
            assert windows[name] == seen, "the window moved while the process was frozen"
            print(f"{name}: killed inside a window of {seen.size} after {attempts} freezes")
            p.start()
        reconcile(db, bootstrap, topic, batch, groups_of(procs), duplicates=window_sizes(windows))
