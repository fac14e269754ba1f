"""The broker as the tests see it: unique names, topics, raw produce and consume, and offsets
read back from the broker (never from a service's own view of them)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.partitioner import murmur2

from infra.kafka import access, principals
from infra.polling import async_wait_for, wait_for
from shared import broker

# Partitions of a pipeline test's topic: the platform's default (infra.settings).
PARTITIONS = 6


def unique(prefix: str) -> str:
    """A topic or group name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_topic(bootstrap: str, prefix: str, partitions: int = 3) -> str:
    """A topic of the test's own, with the platform's ACLs on it (the operator grants them, as
    init does for multi-app-events): any process of the platform may use it as its events topic."""
    name = unique(prefix)
    assert asyncio.run(broker.ensure_topic(bootstrap, name, partitions)), f"{name} existed"
    access.ensure_acls(bootstrap, principals.grants(name))
    return name


async def produce(
    bootstrap: str, topic: str, values: Iterable[bytes | None], key: bytes | None = None
) -> int:
    """Send with acks=all and wait for every acknowledgement; returns how many were acked."""
    producer = broker.producer(bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = [await producer.send(topic, v, key=key) for v in values]
        return len([await f for f in futures])
    finally:
        await producer.stop()


async def consume_all(
    bootstrap: str,
    topic: str,
    group: str,
    expected: int,
    timeout: float = 30.0,
    commit: bool = True,
) -> list[bytes]:
    """Read ``expected`` events from the start with a fresh group; commit them if asked."""
    consumer = broker.consumer(bootstrap, group, auto_offset_reset="earliest")
    consumer.subscribe([topic])
    await consumer.start()
    got: list[bytes] = []
    try:

        async def more() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(m.value for msgs in batch.values() for m in msgs if m.value is not None)
            return len(got) >= expected

        await async_wait_for(more, timeout=timeout, what=f"{expected} events on {topic}")
        if commit:
            await consumer.commit()
        return got
    finally:
        await consumer.stop()


async def produce_to(
    bootstrap: str,
    topic: str,
    counts: dict[int, int],
    prefix: str = "v",
    timestamp_ms: int | None = None,
) -> list[str]:
    """``counts[p]`` values ``<prefix>-p<p>-<i>`` (key ``k<i>``) into partition ``p``: explicit
    partitions, so every offset is known exactly."""
    producer = broker.producer(bootstrap, acks="all")
    await producer.start()
    sent: list[str] = []
    try:
        for partition, n in counts.items():
            for i in range(n):
                value = f"{prefix}-p{partition}-{i}"
                await producer.send_and_wait(
                    topic,
                    value.encode(),
                    key=f"k{i}".encode(),
                    partition=partition,
                    timestamp_ms=timestamp_ms,
                )
                sent.append(value)
    finally:
        await producer.stop()
    return sent


async def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit ``offsets`` for ``group`` the way a member-less admin tool does."""
    consumer = broker.consumer(bootstrap, group)
    await consumer.start()
    try:
        tps = {TopicPartition(topic, p): off for p, off in offsets.items()}
        consumer.assign(list(tps))
        await consumer.commit(tps)
    finally:
        await consumer.stop()


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    return asyncio.run(broker.committed_offsets(bootstrap, group, topic))


def ends(bootstrap: str, topic: str) -> dict[int, int]:
    return asyncio.run(broker.log_end_offsets(bootstrap, topic))


def published(bootstrap: str, topic: str) -> int:
    return sum(ends(bootstrap, topic).values())


def wait_committed_to_end(
    bootstrap: str, group: str, topic: str, timeout: float = 60
) -> dict[int, int]:
    """The group's committed offsets, read back from the broker, reach the log end."""
    log_end = ends(bootstrap, topic)
    wait_for(
        lambda: committed(bootstrap, group, topic) == log_end,
        timeout=timeout,
        what=f"{group} to commit up to {log_end}",
        detail=lambda: f"committed {committed(bootstrap, group, topic)}",
    )
    return log_end


def stable_committed(bootstrap: str, group: str, topic: str, settle: float = 0.6) -> dict[int, int]:
    """Committed offsets once no commit is still landing: two reads ``settle`` s apart agree
    (a request a killed process sent just before dying may still be processed)."""
    last: list[dict[int, int]] = [committed(bootstrap, group, topic)]
    mark = [time.monotonic()]

    def settled() -> bool:
        now = committed(bootstrap, group, topic)
        if now != last[0]:
            last[0], mark[0] = now, time.monotonic()
            return False
        return time.monotonic() - mark[0] >= settle

    wait_for(settled, timeout=30, what=f"{group}'s committed offsets to settle", interval=0.2)
    return last[0]


async def _partitions(bootstrap: str, topic: str) -> list[dict]:
    async with broker.admin_client(bootstrap) as admin:
        return list((await broker.topic_metadata(admin, topic))["partitions"])


def leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the node id of its leader (-1: none)."""
    return {p["partition"]: p["leader"] for p in asyncio.run(_partitions(bootstrap, topic))}


def in_sync(bootstrap: str, topic: str) -> dict[int, list[int]]:
    """Per partition, the node ids of its in-sync replicas."""
    return {p["partition"]: sorted(p["isr"]) for p in asyncio.run(_partitions(bootstrap, topic))}


def partition_of(key: str, partitions: int) -> int:
    """The partition aiokafka's default partitioner gives a key (murmur2, like Java's)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions
