"""Each principal may do what its process needs on the broker and is refused the rest, tried
with independent clients (aiokafka and kafka-python built here, not the kit's), on a topic the
operator provisioned as init does (infra/kafka/access.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from infra.kafka.principals import LEARNER, PUBLISHER
from infra.local.stack import Stack
from shared.broker import topic_config
from shared.kafka_auth import KafkaAuth
from shared.settings import dlq_topic, redrive_topic
from tests.support.kafka import unique

TIMEOUT_MS = 8_000
AdminCall = Callable[[AIOKafkaAdminClient], Awaitable[Any]]


@pytest.fixture(scope="module")
def topic(stack: Stack) -> str:
    name = unique("access")
    assert stack.provision(name), f"{name} existed"
    return name


def auth(stack: Stack, principal: str) -> dict[str, Any]:
    return stack.credentials.auth(principal).aiokafka()


async def produce(bootstrap: str, who: dict[str, Any], topic: str) -> int:
    # Idempotent, as the publisher: Write on the topic is all InitProducerId needs.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=TIMEOUT_MS,
        **who,
    )
    await producer.start()
    try:
        return int((await producer.send_and_wait(topic, b"v", key=b"k")).offset)
    finally:
        await producer.stop()


async def join_and_read(bootstrap: str, who: dict[str, Any], topic: str, group: str) -> int:
    """Join ``group`` on ``topic`` and read what is there; how many records were read."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=TIMEOUT_MS,
        **who,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=TIMEOUT_MS)
        read = sum(len(records) for records in batch.values())
        await consumer.commit()
        return read
    finally:
        await consumer.stop()


async def admin_call(bootstrap: str, who: dict[str, Any], call: AdminCall) -> Any:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS, **who)
    await admin.start()
    try:
        return await call(admin)
    finally:
        await admin.close()


def refused(coro: Awaitable[Any], error: type[BaseException]) -> BaseException:
    with pytest.raises(error) as caught:
        asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]
    return caught.value


def test_publisher_writes_the_events_topic_and_nothing_else(stack: Stack, topic: str) -> None:
    b, who = stack.bootstrap, auth(stack, PUBLISHER)
    assert asyncio.run(produce(b, who, topic)) >= 0
    refused(produce(b, who, redrive_topic(topic, "billing")), TopicAuthorizationFailedError)
    # Reading needs Read on the group first: the publisher may join none, not even its own.
    refused(join_and_read(b, who, topic, "publisher"), GroupAuthorizationFailedError)
    refused(join_and_read(b, who, topic, f"analytics-{topic}"), GroupAuthorizationFailedError)


def test_publisher_cannot_fetch_even_without_a_group(stack: Stack, topic: str) -> None:
    async def fetch() -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=stack.bootstrap, request_timeout_ms=TIMEOUT_MS,
            **auth(stack, PUBLISHER),
        )  # fmt: skip
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, 0)])
            consumer.seek(TopicPartition(topic, 0), 0)
            batch = await consumer.getmany(timeout_ms=TIMEOUT_MS)
            return sum(len(r) for r in batch.values())
        finally:
            await consumer.stop()

    refused(fetch(), TopicAuthorizationFailedError)


def test_billing_reads_in_its_own_group_and_writes_its_dead_letters(
    stack: Stack, topic: str
) -> None:
    b, who = stack.bootstrap, auth(stack, "billing")
    asyncio.run(produce(b, auth(stack, PUBLISHER), topic))
    assert asyncio.run(join_and_read(b, who, topic, f"billing-{topic}")) >= 1
    assert asyncio.run(produce(b, who, dlq_topic(topic, "billing"))) == 0


def test_billing_is_refused_what_is_not_its_own(stack: Stack, topic: str) -> None:
    b, who = stack.bootstrap, auth(stack, "billing")
    refused(join_and_read(b, who, topic, "analytics"), GroupAuthorizationFailedError)
    refused(join_and_read(b, who, topic, f"analytics-{topic}"), GroupAuthorizationFailedError)
    refused(produce(b, who, topic), TopicAuthorizationFailedError)
    refused(produce(b, who, dlq_topic(topic, "analytics")), TopicAuthorizationFailedError)


def admin_errors(
    stack: Stack, who: dict[str, Any], call: AdminCall, field: str, at: int = 1
) -> set[int]:
    """The error codes of an admin request: those the broker answered per resource (item
    ``at`` of each entry of the response's ``field``), or the one aiokafka raised."""
    try:
        response = asyncio.run(admin_call(stack.bootstrap, who, call))
    except KafkaError as exc:
        return {exc.errno}
    return {entry[at] for entry in getattr(response, field)}


def test_billing_cannot_delete_a_topic_or_alter_its_config(stack: Stack, topic: str) -> None:
    who = auth(stack, "billing")
    refusal = {TopicAuthorizationFailedError.errno}
    assert admin_errors(stack, who, lambda a: a.delete_topics([topic]), "topic_error_codes") == (
        refusal
    )
    retention = ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "1"})

    async def alter(a: AIOKafkaAdminClient) -> Any:
        (response,) = await a.alter_configs([retention])
        return response

    # alter_configs' resources: (error_code, message, type, name); refused per resource.
    assert admin_errors(stack, who, alter, "resources", at=0) == refusal
    # Nothing changed: the topic is there, its retention the default.
    assert asyncio.run(topic_config(stack.bootstrap, topic, "retention.ms")) == "604800000"


def test_a_service_cannot_create_topics(stack: Stack) -> None:
    name = unique("not-allowed")
    made = admin_errors(
        stack,
        auth(stack, "analytics"),
        lambda a: a.create_topics([NewTopic(name, 1, 1)]),
        "topic_errors",
    )
    assert made == {TopicAuthorizationFailedError.errno}, made


def test_anonymous_and_wrong_password_are_refused(
    stack: Stack, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    b = stack.bootstrap
    # No SASL handshake: the broker closes the connection before any request; so does the
    # controller listener.
    refused(produce(b, {}, topic), KafkaConnectionError)
    controller = f"127.0.0.1:{stack.kafka.members[0].controller_port}"
    refused(produce(controller, {}, topic), KafkaConnectionError)
    wrong = KafkaAuth("billing", "not-the-password").aiokafka()
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        refused(produce(b, wrong, topic), KafkaConnectionError)
    # aiokafka logs the broker's answer and raises a connection error: the answer is the proof.
    assert "SaslAuthenticationFailed" in caplog.text, caplog.text
    assert "invalid credentials" in caplog.text, caplog.text


def test_learner_with_kafka_python_produces_and_consumes(stack: Stack, topic: str) -> None:
    """The seed's client, configured exactly as the learner's snippet says."""
    from kafka import KafkaConsumer, KafkaProducer
    from kafka.errors import GroupAuthorizationFailedError as KpGroupRefused

    namespace: dict[str, Any] = {}
    snippet = stack.credentials.folder / f"{LEARNER}_kafka_python.py"
    exec(snippet.read_text(), namespace)  # noqa: S102 - the file the README points people to
    config = {**namespace["CONFIG"], "bootstrap_servers": stack.bootstrap}
    producer = KafkaProducer(**config, acks="all")
    sent = [producer.send(topic, f"learner-{i}".encode()) for i in range(5)]
    producer.flush(timeout=30)
    assert all(f.get(timeout=30) is not None for f in sent)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        **config,
        group_id=f"learner-{topic}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    values = {m.value for m in consumer}
    consumer.close()
    assert {f"learner-{i}".encode() for i in range(5)} <= values
    other = KafkaConsumer(topic, **config, group_id="billing", consumer_timeout_ms=5_000)
    with pytest.raises(KpGroupRefused):
        list(other)
    other.close()


def test_the_controller_listener_takes_only_the_controller(
    stack: Stack, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Even the operator, a super user on the client listener, cannot sign in there."""
    controller = f"127.0.0.1:{stack.kafka.members[0].controller_port}"
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        refused(produce(controller, auth(stack, "operator"), topic), KafkaConnectionError)
    assert "SaslAuthenticationFailed" in caplog.text, caplog.text
