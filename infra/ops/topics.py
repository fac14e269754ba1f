"""Operator views of topics: list and describe them, tail one (``./fanout topics``, ``tail``).
Plain clients of the broker: no group joins, no commits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.broker import (
    BrokerError,
    admin_client,
    offsets_client,
    partitions_of,
    topic_metadata,
)
from shared.fetch import Undecodable, fetch

# What tail shows: an event, or a batch the client could not decode.
Shown: TypeAlias = "ConsumerRecord[bytes, bytes] | Undecodable"


class OpsError(BrokerError):
    """A request the operator can fix (unknown topic, bad partition, active group)."""


@dataclass(frozen=True)
class TopicSummary:
    name: str
    partitions: int
    replication: int
    internal: bool


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    earliest: int
    log_end: int


async def list_topics(bootstrap: str, include_internal: bool = False) -> list[TopicSummary]:
    async with admin_client(bootstrap) as admin:
        metas = await admin.describe_topics(None)
    topics = [
        TopicSummary(
            name=m["topic"],
            partitions=len(m["partitions"]),
            replication=max((len(p["replicas"]) for p in m["partitions"]), default=0),
            internal=m["is_internal"] or m["topic"].startswith("__"),
        )
        for m in metas
    ]
    return sorted((t for t in topics if include_internal or not t.internal), key=lambda t: t.name)


async def describe_topic(bootstrap: str, topic: str) -> list[PartitionInfo]:
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
    tps = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    async with offsets_client(bootstrap) as consumer:
        earliest = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
    rows = [
        PartitionInfo(
            p["partition"],
            p["leader"],
            list(p["replicas"]),
            list(p["isr"]),
            earliest[TopicPartition(topic, p["partition"])],
            ends[TopicPartition(topic, p["partition"])],
        )
        for p in meta["partitions"]
    ]
    return sorted(rows, key=lambda r: r.partition)


async def tail(
    bootstrap: str,
    topic: str,
    on_record: Callable[[Shown], None],
    *,
    from_beginning: bool = False,
    partition: int | None = None,
    max_events: int | None = None,
    idle_timeout: float | None = None,
) -> int:
    """Feed ``on_record`` the topic's events (manual assignment: no group, nothing committed).

    Returns how many were delivered: stops after ``max_events``, or once ``idle_timeout``
    seconds pass without a new event; otherwise runs until cancelled (Ctrl-C).
    """
    tps = await partitions_of(bootstrap, topic)
    if partition is not None:
        tps = [tp for tp in tps if tp.partition == partition]
        if not tps:
            raise OpsError(f"topic {topic!r} has no partition {partition}")
    async with offsets_client(bootstrap) as consumer:
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await consumer.seek_to_end(*tps)
        return await _pump(consumer, on_record, max_events, idle_timeout)


async def _pump(
    consumer: AIOKafkaConsumer,
    on_record: Callable[[Shown], None],
    max_events: int | None,
    idle_timeout: float | None,
) -> int:
    """Through the services' own fetch step: a batch the client cannot decode is shown as
    such and passed, never a traceback, never a stop."""
    delivered = 0
    last_event = time.monotonic()
    while max_events is None or delivered < max_events:
        wait = 1.0
        if idle_timeout is not None:
            wait = min(wait, idle_timeout - (time.monotonic() - last_event))
            if wait <= 0:
                break
        want = None if max_events is None else max_events - delivered
        fetched = await fetch(consumer, int(wait * 1000), want)
        for records in fetched.records.values():
            for record in records:
                on_record(record)
                delivered += 1
        for bad in fetched.undecodable:
            on_record(bad)
        if not fetched.empty:
            last_event = time.monotonic()
    return delivered
