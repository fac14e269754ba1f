"""The broker, as every process sees it: topics and their configuration, log-end offsets, a
group's committed offsets, and the one place Kafka clients are built.

Readers here join no group and commit nothing. Operator-only views (tail, group members,
offset resets) live in ``infra/ops/topics.py`` and ``infra/ops/groups.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared import inflate
from shared.kafka_auth import client_options

REQUEST_TIMEOUT_MS = 10_000


class BrokerError(RuntimeError):
    """The broker answered, with an error an operator can act on (unknown topic, ...)."""


def consumer(
    bootstrap: str | list[str], group: str | None = None, **settings: Any
) -> AIOKafkaConsumer:
    """Every AIOKafkaConsumer of the project: offsets move only when the caller commits (only
    the lab's counter-example, infra/lab/naive.py, asks for enable_auto_commit=True), and only
    committed transactions are read (aiokafka's default would apply an aborted event)."""
    inflate.install()  # a compressed batch inflates at most so far
    defaults = {
        "request_timeout_ms": REQUEST_TIMEOUT_MS,
        "isolation_level": "read_committed",
        **client_options(),  # this process's principal (shared/kafka_auth.py)
        "enable_auto_commit": False,
    }
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, **{**defaults, **settings})


def producer(bootstrap: str | list[str], **settings: Any) -> AIOKafkaProducer:
    """Every AIOKafkaProducer of the project, signed in as this process's principal."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **{**client_options(), **settings})


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS, **client_options()
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


@asynccontextmanager
async def offsets_client(bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group: asks for offsets, never joins or commits."""
    client = consumer(bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


def raise_for(error_code: int, what: str) -> None:
    if error_code:
        raise BrokerError(f"{what}: {for_code(error_code).__name__}")


async def topic_metadata(admin: AIOKafkaAdminClient, topic: str) -> dict[str, Any]:
    (meta,) = await admin.describe_topics([topic])
    raise_for(meta["error_code"], f"topic {topic!r}")
    return dict(meta)


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


async def ensure_events_topic(bootstrap: str, name: str, partitions: int, replication: int) -> bool:
    """The events topic; with three replicas, writes need two in sync (acks=all loses nothing
    when one broker dies)."""
    configs = {"min.insync.replicas": "2"} if replication >= 3 else {}
    return await ensure_topic(bootstrap, name, partitions, replication, configs)


async def partitions_of(bootstrap: str, topic: str) -> list[TopicPartition]:
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
    return sorted(TopicPartition(topic, p["partition"]) for p in meta["partitions"])


async def replication_of(bootstrap: str, topic: str) -> int:
    """How many replicas the topic's first partition has."""
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
    return len(meta["partitions"][0]["replicas"])


async def topic_config(bootstrap: str, topic: str, name: str) -> str | None:
    """One configuration value of ``topic`` as the broker applies it (None: not reported)."""
    async with admin_client(bootstrap) as admin:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {name: None})]
        )
    return _config_value(response, name, f"topic {topic!r}")


async def broker_config(bootstrap: str, name: str) -> str | None:
    """One configuration value of the lowest-numbered broker, as it runs."""
    async with admin_client(bootstrap) as admin:
        node = min(b["node_id"] for b in (await admin.describe_cluster())["brokers"])
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, str(node), {name: None})]
        )
    return _config_value(response, name, f"broker {node}")


def _config_value(response: Any, name: str, what: str) -> str | None:
    for error_code, _, _, _, entries, *_ in response.resources:
        raise_for(error_code, what)
        for entry in entries:
            if entry[0] == name:
                return str(entry[1])
    return None


# Why the broker never creates a topic by itself: a mistyped name would silently become a
# new topic with the broker's default partitions and one replica, which nobody reads.
AUTO_CREATE = "auto.create.topics.enable"
EXPLICIT_TOPICS = (
    "the platform creates its topics itself, with the partitions and replication it chose;"
    " auto-creation is off so that a mistyped topic name fails loudly instead of becoming a new"
    " topic with the broker's defaults that nobody reads"
)


async def log_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset the next produced event will get."""
    tps = await partitions_of(bootstrap, topic)
    async with offsets_client(bootstrap) as client:
        ends = await client.end_offsets(tps)
    return {tp.partition: off for tp, off in sorted(ends.items())}


async def group_offsets(admin: AIOKafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    """Every offset ``group`` committed. A partition it never committed is absent (the
    broker's -1), as ``kafka-consumer-groups`` shows "-"."""
    offsets = await admin.list_consumer_group_offsets(group)
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """Per partition of ``topic``, the group's committed offset read back from the broker."""
    async with admin_client(bootstrap) as admin:
        offsets = await group_offsets(admin, group)
    return {tp.partition: off for tp, off in sorted(offsets.items()) if tp.topic == topic}
