"""The operator's side of the broker's access control: SCRAM users, ACLs and the topics they
name — run by init (compose), ``./fanout up`` and the tests, never by a service (which has
neither Create nor Alter). Through confluent-kafka: aiokafka has no SCRAM or ACL API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from infra.kafka import principals
from infra.kafka.principals import Grant
from shared import broker
from shared.kafka_auth import KafkaAuth, identity

T = TypeVar("T")

SCRAM_ITERATIONS = 8192  # Kafka's minimum is 4096
TIMEOUT_S = 30.0


def admin(bootstrap: str, auth: KafkaAuth | None = None) -> AdminClient:
    """A librdkafka admin client signed in as ``auth`` (default: this process's identity)."""
    auth = auth or identity()
    config = {"bootstrap.servers": bootstrap, **(auth.librdkafka() if auth else {})}
    return AdminClient(config)


def ensure_users(bootstrap: str, passwords: dict[str, str]) -> None:
    """Each SCRAM-SHA-512 user with its password (an upsert: the same password again is a
    no-op for its clients; a new one replaces the old)."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [UserScramCredentialUpsertion(u, info, p.encode()) for u, p in passwords.items()]
    client = admin(bootstrap)  # held: a collected client cancels its requests
    futures = client.alter_user_scram_credentials(upserts)  # type: ignore[arg-type]
    for future in futures.values():
        future.result(timeout=TIMEOUT_S)


def binding(grant: Grant) -> AclBinding:
    return AclBinding(
        ResourceType[grant.resource],
        grant.name,
        ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
        f"User:{grant.principal}",
        "*",
        AclOperation[grant.operation],
        AclPermissionType.ALLOW,
    )


def ensure_acls(bootstrap: str, grants: Iterable[Grant]) -> None:
    """Create the ACLs (creating one that exists is a no-op)."""
    bindings = [binding(g) for g in dict.fromkeys(grants)]
    client = admin(bootstrap)
    futures = client.create_acls(bindings)
    for future in futures.values():
        future.result(timeout=TIMEOUT_S)


def run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(make())``, also when this thread's event loop is running (a browser test's
    Playwright keeps one): then in a thread of its own, waited for."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def ensure_topics(
    bootstrap: str,
    topic: str,
    partitions: int,
    replication: int,
    services: tuple[str, ...] = principals.SERVICES,
) -> bool:
    """The events topic and each service's dead-letter and redrive topics, as safely kept as
    the events (the events topic's replication, min ISR); True when the events topic was
    created now."""

    async def create() -> bool:
        created = await broker.ensure_events_topic(bootstrap, topic, partitions, replication)
        kept = await broker.replication_of(bootstrap, topic)  # an existing topic's own
        for derived in principals.derived_topics(topic, services):
            await broker.ensure_events_topic(bootstrap, derived, 1, kept)
        return created

    return run_blocking(create)


def provision(
    bootstrap: str,
    topic: str,
    partitions: int,
    replication: int,
    passwords: dict[str, str] | None = None,
    services: tuple[str, ...] = principals.SERVICES,
) -> bool:
    """Everything the platform on ``topic`` needs from the broker, made by the operator:
    the SCRAM users (when ``passwords`` are given), the topics and the ACLs."""
    if passwords:
        ensure_users(bootstrap, passwords)
    created = ensure_topics(bootstrap, topic, partitions, replication, services)
    ensure_acls(bootstrap, principals.grants(topic, services))
    return created


__all__ = ["KafkaException", "admin", "ensure_acls", "ensure_users", "provision"]
