"""Chaos: a seeded, reproducible schedule of SIGKILLs of random services while more than
50,000 events are published and consumed; then an exact reconcile.

FANOUT_CHAOS_SEED picks another schedule; the seed and the schedule are printed (-s), so a
failing run can be replayed."""

from __future__ import annotations

import os
import random
from contextlib import ExitStack

from infra.local.stack import Stack
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic
from tests.support.processes import ServiceProcess, groups_of, running
from tests.support.publishing import BackgroundPublish, generate, publish_events
from tests.support.reconcile import reconcile
from tests.support.sessions import wait_open_tx
from tests.support.windows import (
    Window,
    check_commit_not_ahead,
    crash_window,
    freeze_in_window,
    wait_window_read,
    window_sizes,
)

KILLS = 12
MODES = ("any", "tx", "window")
BACKLOG = 10_000
STREAM = 45_000
RATE = 900  # events/s of the live stream: 50 s of publishing, kills spread over it
# (service, kill once this many events of the stream are sent, batches it must persist
# again first if it was restarted, where the kill strikes)
Step = tuple[str, int, int, str]


def schedule(seed: int) -> tuple[dict[str, str], list[Step]]:
    """BATCH_MAX per service and the kills, from ``seed`` (printed, so a run can be replayed)."""
    rng = random.Random(seed)
    sizes = {n: str(rng.choice((50, 300, 1000, 2000, 5000))) for n in SERVICES}
    # Kill points: how far the live stream has got (the services keep up with it).
    points = sorted(rng.sample(range(1_000, STREAM - 2_000), KILLS))
    # Where the kill strikes: anywhere ("any"), inside an open batch transaction ("tx"), or
    # in the window between a DB commit and its offset commit ("window").
    plan = [
        (rng.choice(SERVICES), at, rng.randint(1, 6), rng.choices(MODES, (2, 5, 3))[0])
        for at in points
    ]
    print(f"chaos seed {seed}; BATCH_MAX {sizes}")
    print(
        "schedule (service, kill once N events of the stream are sent, and if restarted once "
        "it persisted B batches again, where):"
    )
    for i, step in enumerate(plan, 1):
        print(f"  {i:2d}. {step}")
    return sizes, plan


def strike(
    db: Db,
    bootstrap: str,
    topic: str,
    procs: dict[str, ServiceProcess],
    publisher: BackgroundPublish,
    step: Step,
    windows: dict[str, list[Window]],
) -> str:
    """One kill of the schedule, then the restart; returns what happened."""
    name, at, batches, mode = step
    p = procs[name]
    publisher.wait_sent(at)
    if windows[name]:
        # A restarted service is killed again only once it consumes again (batches
        # persisted since its start) and has read its last window again: then the
        # duplicates it absorbs are exactly the sum of its windows.
        wait_window_read(db, bootstrap, topic, p, windows[name][-1], batches, BACKLOG + STREAM)
    struck = "anywhere"
    if mode == "tx" and wait_open_tx(db, name, timeout=2):
        struck = "in a transaction"
    caught = None
    if mode == "window" and not publisher.done:  # batches still come: catch one
        caught = freeze_in_window(db, bootstrap, topic, p, timeout=10)
    p.kill()
    w = crash_window(db, bootstrap, p, topic)
    if caught is not None:
        struck = f"in the window after {caught[1]} freezes"
        assert w == caught[0], "the window moved while the process was frozen"
    windows[name].append(w)
    for other, q in procs.items():  # the live ones never commit ahead either
        if other != name:
            check_commit_not_ahead(db, bootstrap, other, q.group, topic)
    line = (
        f"{name} killed at {db.inbox_count(name)} persisted, "
        f"published {publisher.sent}, {struck}, window {w.size}"
    )
    p.start()
    return line


def test_chaos_random_sigkills_during_50k_events(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    sizes, plan = schedule(int(os.environ.get("FANOUT_CHAOS_SEED", "20251125")))
    topic = new_topic(bootstrap, "chaos", PARTITIONS)
    backlog = publish_events(bootstrap, topic, BACKLOG, seed=601)
    stream = list(generate(STREAM, users=50, seed=602))
    assert BACKLOG + STREAM >= 50_000

    with ExitStack() as es:
        procs: dict[str, ServiceProcess] = {}
        for name in SERVICES:
            procs |= es.enter_context(running(stack, topic, (name,), BATCH_MAX=sizes[name]))
        publisher = BackgroundPublish(bootstrap, topic, stream, rate=RATE).start()
        windows: dict[str, list[Window]] = {n: [] for n in SERVICES}
        log = [strike(db, bootstrap, topic, procs, publisher, step, windows) for step in plan]
        publisher.join()  # every event acknowledged
        print("\n".join(f"{i:2d}. {line}" for i, line in enumerate(log, 1)))
        assert sum(len(ws) for ws in windows.values()) == KILLS
        reconcile(
            db,
            bootstrap,
            topic,
            backlog + stream,
            groups_of(procs),
            window_sizes(windows),
            timeout=180,
        )
