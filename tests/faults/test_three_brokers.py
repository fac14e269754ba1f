"""Three brokers, replication factor 3, min.insync.replicas=2, producer acks=all: the leader
of a partition is killed mid-stream. Every acknowledged event is persisted by every service,
and the services carry on through the failover and the broker's return."""

from __future__ import annotations

import asyncio

from infra.kafka.server import KafkaCluster
from infra.local.stack import Stack
from infra.polling import wait_for
from shared.broker import ensure_events_topic, topic_config
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, in_sync, leaders, unique
from tests.support.processes import ServiceProcess, groups_of, running
from tests.support.publishing import TrackedPublish, generate, publish_list
from tests.support.reconcile import reconcile, wait_progress


def fully_replicated(bootstrap: str, topic: str) -> bool:
    isr = in_sync(bootstrap, topic)
    return len(isr) == PARTITIONS and all(len(replicas) == 3 for replicas in isr.values())


def replicated_topic(b3: str) -> str:
    """A new events topic with 3 replicas and min.insync.replicas=2, known to every broker."""
    topic = unique("three-brokers")
    assert asyncio.run(ensure_events_topic(b3, topic, PARTITIONS, 3))
    # A new topic's metadata reaches every broker shortly after its creation: poll.
    wait_for(
        lambda: asyncio.run(topic_config(b3, topic, "min.insync.replicas")) == "2",
        timeout=30,
        what=f"{topic}'s min.insync.replicas to read 2",
    )
    wait_for(
        lambda: fully_replicated(b3, topic),
        timeout=30,
        what=f"{topic}'s {PARTITIONS} partitions with 3 in-sync replicas",
    )
    return topic


def kill_leader_and_carry_on(
    db: Db,
    kafka3: KafkaCluster,
    topic: str,
    procs: dict[str, ServiceProcess],
    publisher: TrackedPublish,
) -> None:
    """Kill partition 0's leader; while it is dead, 3,000 more events are acknowledged and
    every service persists 3,000 more. The broker is back (and ready) on return."""
    b3 = kafka3.bootstrap
    victim_id = leaders(b3, topic)[0]
    victim = next(n for n in kafka3.members if n.node_id == victim_id)
    try:
        kafka3.kill_node(victim)
        acked_at_kill = len(publisher.acked)
        persisted_at_kill = {n: db.inbox_count(n) for n in procs}
        # A surviving in-sync replica takes over partition 0.
        wait_for(
            lambda: leaders(b3, topic)[0] not in (victim_id, -1),
            timeout=60,
            what="a new leader for partition 0",
            interval=0.5,
        )
        # Two replicas in sync satisfy min.insync.replicas: acks=all writes go on, and the
        # services keep consuming while the old leader is dead.
        publisher.wait_acked(acked_at_kill + 3_000)
        for p in procs.values():
            wait_progress(db, p, persisted_at_kill[p.name] + 3_000)
        print(
            f"node {victim_id} (leader of partition 0) killed after {acked_at_kill} acks; "
            f"{len(publisher.acked) - acked_at_kill} acknowledged while it was dead"
        )
    finally:
        if victim.process is None or victim.process.poll() is not None:
            kafka3.start_node(victim)
        kafka3.wait_ready()


def test_leader_killed_mid_stream_loses_nothing_acknowledged(
    stack: Stack, clean_db: Db, kafka3: KafkaCluster
) -> None:
    db, b3 = clean_db, kafka3.bootstrap
    topic = replicated_topic(b3)
    stream = list(generate(15_000, users=50, seed=701))

    with running(stack, topic, KAFKA_BOOTSTRAP_SERVERS=b3) as procs:
        for p in procs.values():
            p.wait_assigned(PARTITIONS)
        publisher = TrackedPublish(b3, topic, stream, rate=1_500).start()
        publisher.wait_acked(4_000)
        kill_leader_and_carry_on(db, kafka3, topic, procs, publisher)
        publisher.join()
        assert publisher.failed == [], f"{len(publisher.failed)} failed: {publisher.failed[:3]}"
        assert len(publisher.acked) == len(stream)
        # The returning broker catches up: every partition is fully replicated again.
        wait_for(
            lambda: fully_replicated(b3, topic),
            timeout=90,
            what="every partition back to 3 in-sync replicas",
            interval=1,
        )
        # The cluster is whole again and the services still consume: more events after it.
        after = publish_list(b3, topic, list(generate(2_000, users=50, seed=702)))
        # Every acknowledged event is persisted by every service, once.
        reconcile(db, b3, topic, publisher.acked + after, groups_of(procs))
