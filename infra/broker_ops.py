"""Operator views of the broker: topics, tailing, consumer groups with lag, offset resets.

The read side of ``./fanout topics|tail|groups|reset-offsets``; the CLI only formats what these
return. Everything here is a plain client of the broker (no consumer group joins, no commits)
except :func:`apply_reset`, which commits on behalf of an idle group.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError

from shared.broker import (
    BrokerError,
    admin_client,
    committed_offsets,
    consumer,
    group_offsets,
    offsets_client,
    partitions_of,
    raise_for,
    topic_metadata,
)

# States in which no member holds partitions, so the group's offsets may be rewritten.
IDLE_GROUP_STATES = frozenset({"Empty", "Dead"})

ResetTarget = Literal["earliest", "latest"] | datetime


class OpsError(BrokerError):
    """A request the operator can fix (unknown topic, bad partition, active group)."""


class GroupActiveError(OpsError):
    """The group has live members: rewriting its offsets now would race their commits."""


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


@dataclass(frozen=True)
class GroupMember:
    member_id: str
    client_id: str
    host: str
    partitions: list[TopicPartition]


@dataclass(frozen=True)
class GroupInfo:
    group: str
    state: str
    protocol_type: str
    members: list[GroupMember]

    @property
    def idle(self) -> bool:
        return self.state in IDLE_GROUP_STATES and not self.members


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed this partition
    log_end: int
    owner: GroupMember | None

    @property
    def lag(self) -> int | None:
        return None if self.committed is None else max(self.log_end - self.committed, 0)


@dataclass(frozen=True)
class OffsetMove:
    partition: int
    current: int | None
    new: int


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
    on_record: Callable[[ConsumerRecord[bytes, bytes]], None],
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
    on_record: Callable[[ConsumerRecord[bytes, bytes]], None],
    max_events: int | None,
    idle_timeout: float | None,
) -> int:
    delivered = 0
    last_event = time.monotonic()
    while max_events is None or delivered < max_events:
        wait = 1.0
        if idle_timeout is not None:
            wait = min(wait, idle_timeout - (time.monotonic() - last_event))
            if wait <= 0:
                break
        want = None if max_events is None else max_events - delivered
        batch = await consumer.getmany(timeout_ms=int(wait * 1000), max_records=want)
        for records in batch.values():
            for record in records:
                on_record(record)
                delivered += 1
        if batch:
            last_event = time.monotonic()
    return delivered


async def list_groups(bootstrap: str) -> list[GroupInfo]:
    async with admin_client(bootstrap) as admin:
        names = sorted(name for name, _protocol in await admin.list_consumer_groups())
        return [await _describe_group(admin, name) for name in names]


async def describe_group(bootstrap: str, group: str) -> GroupInfo:
    async with admin_client(bootstrap) as admin:
        return await _describe_group(admin, group)


async def _describe_group(admin: AIOKafkaAdminClient, group: str) -> GroupInfo:
    # One group per request on purpose: aiokafka 0.14 decodes DescribeGroups v3 replies with
    # the v2 schema, which ignores the trailing authorized_operations field. With a single
    # group that field is the last 4 bytes and is harmlessly dropped; with several groups the
    # decoder misaligns and the connection fails.
    (response,) = await admin.describe_consumer_groups([group])
    (desc,) = response.to_object()["groups"]
    raise_for(desc["error_code"], f"group {group!r}")
    members = [_member(m) for m in desc["members"]]
    return GroupInfo(group, desc["state"], desc["protocol_type"], members)


def _member(raw: dict[str, Any]) -> GroupMember:
    assignment: list[TopicPartition] = []
    # Empty while a rebalance is in progress; only "consumer" groups use this encoding.
    if raw["member_assignment"]:
        try:
            decoded = ConsumerProtocolMemberAssignment.decode(raw["member_assignment"])
            assignment = sorted(decoded.partitions())
        except (ValueError, KafkaError, IndexError):  # another protocol's bytes
            assignment = []
    host = raw["client_host"].lstrip("/")  # the broker reports "/127.0.0.1"
    return GroupMember(raw["member_id"], raw["client_id"], host, assignment)


async def group_lag(bootstrap: str, group: str) -> tuple[GroupInfo, list[PartitionLag]]:
    """Per partition of every topic the group committed to or is assigned: committed offset,
    log end and owner. Partitions it never committed have ``committed=None``."""
    async with admin_client(bootstrap) as admin:
        info = await _describe_group(admin, group)
        committed = await group_offsets(admin, group)
        owners = {tp: m for m in info.members for tp in m.partitions}
        topics = sorted({tp.topic for tp in committed} | {tp.topic for tp in owners})
        tps = []
        for topic in topics:
            meta = await topic_metadata(admin, topic)
            tps += [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    if not tps:
        if info.state == "Dead":  # what the broker says of a group it has never seen
            raise OpsError(f"group {group!r} does not exist")
        return info, []
    async with offsets_client(bootstrap) as consumer:
        ends = await consumer.end_offsets(tps)
    rows = [
        PartitionLag(tp.topic, tp.partition, committed.get(tp), ends[tp], owners.get(tp))
        for tp in sorted(tps)
    ]
    return info, rows


async def ensure_group_idle(bootstrap: str, group: str) -> GroupInfo:
    info = await describe_group(bootstrap, group)
    if not info.idle:
        clients = ", ".join(sorted({f"{m.client_id}@{m.host}" for m in info.members})) or "-"
        raise GroupActiveError(
            f"group {group!r} is {info.state} with {len(info.members)} member(s) ({clients}); "
            "stop its consumers first: offsets can only be reset while the group is inactive"
        )
    return info


async def plan_reset(
    bootstrap: str, group: str, topic: str, target: ResetTarget
) -> list[OffsetMove]:
    """Where each partition's committed offset would go. Changes nothing."""
    tps = await partitions_of(bootstrap, topic)
    current = await committed_offsets(bootstrap, group, topic)
    async with offsets_client(bootstrap) as consumer:
        new = await _target_offsets(consumer, tps, target)
    return [OffsetMove(tp.partition, current.get(tp.partition), new[tp]) for tp in tps]


async def _target_offsets(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], target: ResetTarget
) -> dict[TopicPartition, int]:
    if target == "earliest":
        return dict(await consumer.beginning_offsets(tps))
    ends = await consumer.end_offsets(tps)
    if target == "latest":
        return dict(ends)
    assert isinstance(target, datetime)
    ms = int(target.timestamp() * 1000)
    found = await consumer.offsets_for_times({tp: ms for tp in tps})
    # No event at or after the time: the log end, as kafka-consumer-groups does.
    return {tp: found[tp].offset if found.get(tp) else ends[tp] for tp in tps}


async def apply_reset(bootstrap: str, group: str, topic: str, moves: list[OffsetMove]) -> None:
    """Commit ``moves`` for ``group``. Refuses while the group has members; should one join
    after this check, the broker itself rejects our member-less commit (UNKNOWN_MEMBER_ID)."""
    await ensure_group_idle(bootstrap, group)
    # aiokafka 0.14's admin client has no AlterConsumerGroupOffsets: commit as a member-less
    # ("simple") consumer of the group with a manual assignment, which joins nothing.
    client = consumer(bootstrap, group)
    await client.start()
    try:
        tps = {TopicPartition(topic, m.partition): m.new for m in moves}
        client.assign(list(tps))
        await client.commit(tps)
    finally:
        await client.stop()
