"""The broker's principals and what each may do (README: security).

Static principals (PLAIN, defined in the broker's own configuration, super users):
``controller`` (the controller listener), ``broker`` (between brokers) and ``operator``
(init, the CLI, the tests' harness). The operator is a super user because it must create
SCRAM users and ACLs, which needs Alter on the cluster — and whoever holds that can grant
itself anything, so precise ACLs for it would only pretend. It is PLAIN because SCRAM users
live in the metadata log: someone has to sign in before any exists.

Application principals (SCRAM-SHA-512, created by the operator): ``publisher``, one per
service, ``learner`` (a person's own clients). Their ACLs are literal names of the events
topic and the topics derived from it; groups are the service's name or that name plus ``-``
(a test's or a second deployment's group: ``billing-2``).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.registry import LAYOUT
from shared.settings import dlq_topic, redrive_topic

CONTROLLER, BROKER, OPERATOR = "controller", "broker", "operator"
STATIC = (CONTROLLER, BROKER, OPERATOR)
PUBLISHER, LEARNER = "publisher", "learner"
SERVICES = tuple(s.name for s in LAYOUT.services)
SCRAM_USERS = (PUBLISHER, *SERVICES, LEARNER)
ALL = (*STATIC, *SCRAM_USERS)
LEARNER_GROUP_PREFIX = "learner-"


CLUSTER = "kafka-cluster"  # the one name of Kafka's cluster resource


@dataclass(frozen=True)
class Grant:
    """One ALLOW ACL: ``principal`` may ``operation`` on a topic or group named ``name``
    (``prefixed``: every name that starts so)."""

    principal: str
    operation: str  # READ, WRITE, DESCRIBE, DESCRIBE_CONFIGS
    resource: str  # TOPIC, GROUP, BROKER (librdkafka's name of Kafka's CLUSTER resource, 4)
    name: str
    prefixed: bool = False


def _group(principal: str, operation: str, service: str) -> list[Grant]:
    return [
        Grant(principal, operation, "GROUP", service),
        Grant(principal, operation, "GROUP", f"{service}-", prefixed=True),
    ]


def service_grants(topic: str, service: str) -> list[Grant]:
    """Read the events topic and its own redrive topic in its own group(s); write its own
    dead-letter topic (and read that topic's limits: max.message.bytes)."""
    return [
        Grant(service, "READ", "TOPIC", topic),
        Grant(service, "READ", "TOPIC", redrive_topic(topic, service)),
        Grant(service, "WRITE", "TOPIC", dlq_topic(topic, service)),
        Grant(service, "DESCRIBE_CONFIGS", "TOPIC", dlq_topic(topic, service)),
        *_group(service, "READ", service),
    ]


def publisher_grants(topic: str) -> list[Grant]:
    """Write the events topic (idempotent producing needs nothing more since Kafka 2.8).
    Describe only, for the overview: the services' committed offsets and the topics' ends —
    Describe reads no event and joins no group."""
    grants = [
        Grant(PUBLISHER, "WRITE", "TOPIC", topic),
        # The overview shows auto.create.topics.enable (the broker's config; Kafka masks the
        # sensitive ones): DescribeConfigs on the cluster reads configs and changes none.
        Grant(PUBLISHER, "DESCRIBE_CONFIGS", "BROKER", CLUSTER),
    ]
    for service in SERVICES:
        grants += _group(PUBLISHER, "DESCRIBE", service)
        grants += [
            Grant(PUBLISHER, "DESCRIBE", "TOPIC", t)
            for t in (dlq_topic(topic, service), redrive_topic(topic, service))
        ]
    return grants


def learner_grants(topic: str) -> list[Grant]:
    """A person's own producer and consumer: the events topic, groups ``learner-*``."""
    return [
        Grant(LEARNER, "WRITE", "TOPIC", topic),
        Grant(LEARNER, "READ", "TOPIC", topic),
        Grant(LEARNER, "READ", "GROUP", LEARNER_GROUP_PREFIX, prefixed=True),
    ]


def grants(topic: str, services: tuple[str, ...] = SERVICES) -> list[Grant]:
    """Every ACL the platform on events topic ``topic`` needs."""
    out = publisher_grants(topic) + learner_grants(topic)
    for service in services:
        out += service_grants(topic, service)
    return out


def derived_topics(topic: str, services: tuple[str, ...] = SERVICES) -> list[str]:
    """The dead-letter and redrive topics of each service (one partition each)."""
    return [f(topic, s) for s in services for f in (dlq_topic, redrive_topic)]
