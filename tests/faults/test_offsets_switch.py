"""The offset strategy is per service and switchable: kafka → database → kafka → database on a
live stream loses and doubles nothing; `reset-offsets` moves the database rows with Kafka's
offsets (a replay absorbed by the inbox); reconcile reads the rows as the committed offsets."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from infra.cli.reconcile import snapshot
from infra.local.stack import Stack
from infra.paths import ROOT
from infra.polling import wait_for
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, new_topic
from tests.support.processes import ServiceProcess, groups_of, running
from tests.support.publishing import BackgroundPublish, generate, publish_events
from tests.support.reconcile import reconcile, wait_caught_up, wait_progress
from tests.support.web import get_json, health
from tests.support.windows import check_commit_not_ahead

SWITCHES = ("database", "kafka", "database")


def switch(p: ServiceProcess, store: str) -> None:
    """A redeploy with the other strategy: a clean stop, a start with OFFSET_STORE=store."""
    assert p.stop() == 0, p.log
    p.start(OFFSET_STORE=store)
    p.wait_assigned(PARTITIONS)
    assert health(p.port)["offset_store"] == store


def test_switching_strategies_on_a_live_stream_loses_and_doubles_nothing(
    stack: Stack, clean_db: Db
) -> None:
    """billing and audit start in kafka mode; while events stream in, each is redeployed in
    database mode (the rows seeded from Kafka's offsets), back in kafka mode (Kafka's mirror
    is where the rows are), and in database mode again (the rows left from the first period
    are behind Kafka's offsets: Kafka's win). Every clean stop commits its last batch, so not
    one event is read twice."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-switch", PARTITIONS)
    stream = list(generate(16_000, users=50, seed=2101))

    with running(stack, topic, ("billing", "audit"), BATCH_MAX="300") as procs:
        for p in procs.values():
            p.wait_assigned(PARTITIONS)
        publisher = BackgroundPublish(bootstrap, topic, stream, rate=1_500).start()
        for i, store in enumerate(SWITCHES, start=1):
            publisher.wait_sent(4_000 * i)
            for p in procs.values():
                wait_progress(db, p, 3_000 * i)
                switch(p, store)
                check_commit_not_ahead(db, bootstrap, p.name, p.group, topic)
        publisher.join()
        reconcile(db, bootstrap, topic, stream, groups_of(procs), dict.fromkeys(procs, 0))
        for p in procs.values():  # database mode at the end: rows, mirror and data agree
            stored = db.stored_offsets(p.name, p.group, topic)
            assert stored == committed(bootstrap, p.group, topic)
            decided = db.persisted_offsets(p.name, topic)
            assert stored == {part: off + 1 for part, off in decided.items()}


def reset_offsets(bootstrap: str, url: str, group: str, topic: str, *extra: str) -> str:
    """`./fanout reset-offsets GROUP --to-earliest` as an operator runs it; its output."""
    argv = [sys.executable, "-m", "infra.cli", "reset-offsets", group, "--topic", topic]
    argv += ["--to-earliest", "--bootstrap", bootstrap, "--database-url", url, *extra]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_reset_offsets_to_earliest_moves_both_offsets_and_replays(
    stack: Stack, clean_db: Db
) -> None:
    """billing in database mode reads 3000 events and stops; the dry run shows its rows beside
    Kafka's offsets; --execute moves both to the earliest; the restart replays every event,
    each absorbed by the inbox (3000 duplicates), nothing applied twice."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-reset", PARTITIONS)
    batch = publish_events(bootstrap, topic, 3_000, seed=2102)
    with running(stack, topic, ("billing",), OFFSET_STORE="database") as procs:
        billing = procs["billing"]
        done = wait_caught_up(db, bootstrap, topic, procs, 3_000)["billing"]
        assert db.stored_offsets("billing", billing.group, topic) == done
        assert billing.stop() == 0, billing.log
        dry = reset_offsets(bootstrap, stack.database_url, billing.group, topic)
        assert "billing.offsets row" in dry and "dry run" in dry
        assert db.stored_offsets("billing", billing.group, topic) == done
        out = reset_offsets(bootstrap, stack.database_url, billing.group, topic, "--execute")
        assert "moved the database offsets" in out, out
        zero = dict.fromkeys(done, 0)
        assert db.stored_offsets("billing", billing.group, topic) == zero
        assert committed(bootstrap, billing.group, topic) == zero
        billing.start()
        reconcile(db, bootstrap, topic, batch, groups_of(procs), {"billing": 3_000})
        assert_rows_are_the_committed_offsets(stack, topic, groups_of(procs))


def assert_rows_are_the_committed_offsets(
    stack: Stack, topic: str, groups: Mapping[str, str]
) -> None:
    """`./fanout reconcile`'s reading: committed = the rows, nothing persisted above them."""
    recons = asyncio.run(snapshot(stack.bootstrap, stack.reader_url, topic, dict(groups)))
    for r in recons:
        assert r.reconciled, r.gaps
        assert r.window == 0 and r.lag == 0, (r.service, r.window, r.lag)


def test_the_partition_table_shows_the_database_offset_beside_kafkas(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-table", PARTITIONS)
    publish_events(bootstrap, topic, 1_000, seed=2103)
    with running(stack, topic, ("audit",), OFFSET_STORE="database") as procs:
        audit = procs["audit"]
        done = wait_caught_up(db, bootstrap, topic, procs, 1_000)["audit"]

        def shown() -> dict[int, dict[str, Any]]:
            table = get_json(audit.port, "/api/partitions")  # cached for a moment: poll
            assert table["offset_store"] == "database"
            rows = {r["partition"]: r for r in table["rows"]}
            return rows if {p: r["db_offset"] for p, r in rows.items()} == done else {}

        rows = wait_for(shown, timeout=30, what="the database offsets on audit's page")
        assert {p: r["committed"] for p, r in rows.items()} == done
        assert all(r["window"] == 0 and r["lag"] == 0 for r in rows.values())
