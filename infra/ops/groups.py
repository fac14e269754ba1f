"""Operator views of consumer groups: members, lag, and offset resets (``./fanout groups``,
``reset-offsets``). Plain clients of the broker, except :func:`apply_reset`, which commits
on behalf of an idle group."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.errors import KafkaError

from infra.ops.topics import OpsError
from shared.broker import (
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


class GroupActiveError(OpsError):
    """The group has live members: rewriting its offsets now would race their commits."""


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
