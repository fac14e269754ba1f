"""Broker-side facts every tool needs: topics, log-end offsets, a group's committed offsets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    replication: int = 1,
    configs: dict[str, str] | None = None,
) -> bool:
    """Create ``name`` explicitly (never rely on auto-create). True when created now."""
    async with admin_client(bootstrap) as admin:
        try:
            await admin.create_topics(
                [NewTopic(name, partitions, replication, topic_configs=configs or {})]
            )
        except TopicAlreadyExistsError:
            return False
    return True


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    async with admin_client(bootstrap) as admin:
        meta = await admin.describe_topics([topic])
    parts = meta[0]["partitions"]
    return sorted(TopicPartition(topic, p["partition"]) for p in parts)


async def log_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset the next produced event will get."""
    tps = await partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Per partition, the group's committed offset read back from the broker (absent = none)."""
    async with admin_client(bootstrap) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def ensure_events_topic(bootstrap: str, name: str, partitions: int, replication: int) -> bool:
    """The events topic; with three replicas, writes need two in sync (acks=all loses nothing
    when one broker dies)."""
    configs = {"min.insync.replicas": "2"} if replication >= 3 else {}
    return await ensure_topic(bootstrap, name, partitions, replication, configs)


async def replication_of(bootstrap: str, topic: str) -> int:
    """How many replicas the topic's first partition has."""
    async with admin_client(bootstrap) as admin:
        meta = await admin.describe_topics([topic])
    return len(meta[0]["partitions"][0]["replicas"])


async def topic_config(bootstrap: str, topic: str, name: str) -> str | None:
    """One configuration value of ``topic`` as the broker applies it (None: not reported)."""
    async with admin_client(bootstrap) as admin:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {name: None})]
        )
    for resource in response.resources:
        error_code, _, _, _, entries = resource[:5]
        if error_code:
            return None
        for entry in entries:
            if entry[0] == name:
                return str(entry[1])
    return None
