"""Scenario 7, offsets in the database, through `./fanout scenario run` under the platform's
own supervisor: the same crash absorbs the window in kafka mode and redelivers nothing in
database mode, and the numbers of its verdict are those the database and the broker hold."""

from __future__ import annotations

from pathlib import Path

from infra.local.stack import Stack
from tests.support.db import Db, counters
from tests.support.kafka import PARTITIONS, committed, ends, new_topic
from tests.support.processes import FAST
from tests.support.publishing import publish_events
from tests.support.reconcile import wait_reconciled
from tests.support.scenarios import run_scenario, supervised
from tests.support.web import health


def test_offsets_in_the_database(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-offsets", PARTITIONS)
    publish_events(bootstrap, topic, 1_000, seed=71)
    names = ("analytics", "billing")
    with supervised(stack, topic, names, tmp_path, **FAST) as sup:
        groups = {n: sup.running[n].spec.env["CONSUMER_GROUP"] for n in names}
        for name in names:
            wait_reconciled(db, bootstrap, topic, name, groups[name], 1_000)
        run = run_scenario("offsets-in-the-database", tmp_path)
        assert run.code == 0, run.lines
        # billing: redeployed to database mode, crashed, redeployed back; analytics: crashed.
        assert {n: sup.running[n].restarts for n in names} == {"analytics": 1, "billing": 3}
        assert health(sup.running["billing"].spec.web_port or 0)["offset_store"] == "kafka"

    checks = run.checks()
    window, _ = checks["analytics (kafka) duplicates absorbed after the restart"]
    assert 0 < window <= 200  # one batch of the 200 published at the crash
    assert checks == {
        "analytics (kafka) duplicates absorbed after the restart": (window, window),
        "billing (database) window at the crash": (0, 0),
        "billing (database) duplicates absorbed after the restart": (0, 0),
        "billing's Kafka mirror caught up (1 = yes)": (1, 1),
        "gaps (reconcile)": (0, 0),
    }
    behind = run.verdict.split("Kafka's mirror behind its rows at the crash: measured ")[1]
    assert 0 < int(behind) <= 200  # its last batch: what kafka mode would have redelivered
    assert db.progress_sums("analytics") == counters(1_200, duplicates=int(window))
    assert db.progress_sums("billing") == counters(1_200)
    assert committed(bootstrap, groups["billing"], topic) == ends(bootstrap, topic)
