"""Reconcile tells in flight from lost: on a live stream it holds, run after run; a real loss
(offsets skipped past unapplied events) fails it, naming the partitions and the counts."""

from __future__ import annotations

import re

from infra.local.stack import Stack
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, ends, new_topic
from tests.support.processes import groups_of, running_services
from tests.support.publishing import BackgroundPublish, generate, publish_events
from tests.support.reconcile import run_reconcile, skip_to_end, wait_caught_up

RUNS = 5
CAP = 100_000  # at 300/s, far more than the runs need: the stream is stopped when they end


def test_reconcile_holds_on_a_live_stream(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "recon-live", PARTITIONS)
    stream = BackgroundPublish(bootstrap, topic, list(generate(CAP, seed=41)), rate=300)
    with running_services(stack, topic) as procs:
        groups = groups_of(procs)
        stream.start()
        stream.wait_sent(300)
        outcomes, flowing = [], []
        for _ in range(RUNS):  # each while events flow: some in flight every time
            before = stream.sent
            done = run_reconcile(stack.reader_url, bootstrap, topic, groups)
            outcomes.append((done.returncode, done.stdout[-600:] + done.stderr[-600:]))
            flowing.append(stream.sent - before)
        sent = stream.stop()
        wait_caught_up(db, bootstrap, topic, procs, len(sent))
    assert [code for code, _ in outcomes] == [0] * RUNS, outcomes
    # How many were sent during a run depends on its length; that none were is a failure.
    assert all(flowing) and len(sent) < CAP, f"a run with nothing live: {flowing}, {len(sent)}"


def test_a_real_loss_exits_1_and_names_partitions_and_counts(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "recon-loss", PARTITIONS)
    publish_events(bootstrap, topic, 600, seed=42)
    with running_services(stack, topic, ("billing",)) as procs:
        wait_caught_up(db, bootstrap, topic, procs, 600)
        group = procs["billing"].group
        procs["billing"].stop()
        before = committed(bootstrap, group, topic)
        publish_events(bootstrap, topic, 300, seed=43)  # published while billing is down
        skip_to_end(bootstrap, group, topic)
        lost = {p: end - before[p] for p, end in ends(bootstrap, topic).items()}
        done = run_reconcile(stack.reader_url, bootstrap, topic, groups_of(procs))
    assert done.returncode == 1, done.stdout + done.stderr
    named = {
        int(p): int(n)
        for p, n in re.findall(r"partition (\d+): committed \d+ but the database decided only "
                               r"offsets below \d+: (\d+) lost", done.stdout)
    }  # fmt: skip
    assert named == {p: n for p, n in lost.items() if n} and sum(named.values()) == 300
    assert db.inbox_count("billing") == 600  # the skipped 300 were never applied
