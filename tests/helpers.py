"""Test helpers: unique names, deadline polling, small Kafka conveniences."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from shared import broker
from shared.broker import ensure_topic
from shared.polling import DeadlineExceeded, async_wait_for, wait_for

__all__ = [
    "DeadlineExceeded",
    "async_wait_for",
    "wait_for",
    "unique",
    "new_topic",
    "produce",
    "consume_all",
]


def unique(prefix: str) -> str:
    """A topic or group name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_topic(bootstrap: str, prefix: str, partitions: int = 3) -> str:
    name = unique(prefix)
    assert asyncio.run(ensure_topic(bootstrap, name, partitions)), f"{name} already existed"
    return name


async def produce(
    bootstrap: str, topic: str, values: Iterable[bytes | None], key: bytes | None = None
) -> int:
    """Send with acks=all and wait for every acknowledgement; returns how many were acked."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
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
