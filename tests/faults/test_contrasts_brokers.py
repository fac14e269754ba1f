"""The broker contrasts (issue 17), through `./fanout scenario run NAME` under the platform's
own supervisor, which restarts the broker node the scenario kills: acks=0 vs acks=all on the
suite's one broker, and replication on a three-node cluster."""

from __future__ import annotations

import asyncio
import copy
import re
from collections import Counter
from pathlib import Path

from infra.kafka.server import KafkaCluster
from infra.local.stack import Stack
from infra.scenarios.brokers import read_log
from tests.faults.test_three_brokers import replicated_topic
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic
from tests.support.publishing import publish_events
from tests.support.reconcile import wait_reconciled
from tests.support.scenarios import run_scenario, supervised_with_brokers

N = 4_000
ORDER = ("analytics", "billing", "audit")  # the scenario's order of services


def measured(verdict: str, what: str) -> int:
    found = re.search(rf"{re.escape(what)}: measured (\d+)", verdict)
    assert found, verdict
    return int(found[1])


def test_acks_0_vs_all_under_a_broker_restart(stack: Stack, tmp_path: Path) -> None:
    topic = new_topic(stack.bootstrap, "scn-acks-home", PARTITIONS)
    with supervised_with_brokers(stack, topic, (), tmp_path):
        run = run_scenario("acks-0-vs-all", tmp_path, timeout=600)
    print("\n".join(run.lines))  # the measured side, for the record (pytest -s)
    assert run.code == 0, run.lines
    assert run.checks() == {
        "acks=all acknowledged events lost": (0, 0),
        "acks=all events doubled": (0, 0),
    }
    assert any(line.startswith("acks=1 (not played)") for line in run.lines)
    # The log read again here, by the test's own client: acks=0's count is what it holds.
    (scratch,) = {m for line in run.lines for m in re.findall(r"(contrast-acks-[0-9a-f]{8})", line)}
    log = asyncio.run(read_log(stack.bootstrap, scratch))
    zero = Counter({k: n for k, n in log.items() if k[0].startswith("acks-0-")})
    every = Counter({k: n for k, n in log.items() if k[0].startswith("acks-all-")})
    assert N - len(zero) == measured(run.verdict, "acks=0 events lost")
    assert sum(zero.values()) - len(zero) == measured(run.verdict, "acks=0 events doubled")
    refused = measured(run.verdict, "acks=all sends refused")
    assert len(every) == sum(every.values()) == N - refused  # every acknowledged one, once


def test_replication_leader_killed_mid_stream(
    stack: Stack, clean_db: Db, kafka3: KafkaCluster, tmp_path: Path
) -> None:
    db, b3 = clean_db, kafka3.bootstrap
    topic = replicated_topic(b3)
    three = copy.copy(stack)
    three.kafka = kafka3  # the supervisor's broker is the three-node cluster
    publish_events(b3, topic, 300, seed=91)
    with supervised_with_brokers(three, topic, SERVICES, tmp_path) as sup:
        for name, r in sup.running.items():
            wait_reconciled(db, b3, topic, name, r.spec.env["CONSUMER_GROUP"], 300)
        run = run_scenario("replication", tmp_path, timeout=600)
        print("\n".join(run.lines))
        assert run.code == 0, run.lines
    acked = measured(run.verdict, "events acknowledged")
    checks = run.checks()
    assert checks == {
        "new leader was in sync before": (1, 1),
        "in-sync replicas of partition 0 with the node dead": (2, 2),
        "in-sync replicas of partition 0 after its return": (3, 3),
        **{f"acknowledged events in {n} (once each)": (acked, acked) for n in ORDER},
        "gaps (reconcile)": (0, 0),
    }
    # Every event the log holds (the acknowledged ones and any refused send that was written
    # after all) is in every service's inbox once.
    log = asyncio.run(read_log(b3, topic))
    assert set(log.values()) == {1}
    assert len(log) >= 300 + acked
    for name in SERVICES:
        assert db.inbox_count(name) == len(log)
