"""deploy/k8s/'s operator resources held to what the platform implies: the topics init and the
services use (names, partitions, replication), one principal per process with issue 18's
ACLs, and an autoscaler per service group capped at the events topic's partitions."""

from __future__ import annotations

import yaml

from infra.compose.spec import COMPOSE, interpolate
from services.registry import SERVICES
from shared.settings import dlq_topic, redrive_topic
from tests.support.k8s_manifests import Doc, container, of_kind, workloads

EVENTS = "multi-app-events"


def init_env() -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(workloads()["init"])["env"]}


def acls(user: Doc) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) for each allowed operation."""
    return {
        (r["type"], r.get("name", ""), r.get("patternType", ""), op)
        for a in user["spec"]["authorization"]["acls"]
        for r in [a["resource"]]
        for op in a["operations"]
        if a.get("type", "allow") == "allow"
    }


def test_topics_are_the_platforms() -> None:
    topics = {t["spec"]["topicName"]: t["spec"] for t in of_kind("KafkaTopic").values()}
    per_service = {f(EVENTS, s) for s in SERVICES for f in (dlq_topic, redrive_topic)}
    assert set(topics) == {EVENTS} | per_service
    compose_init = yaml.safe_load(COMPOSE.read_text())["services"]["init"]["environment"]
    partitions = int(interpolate(compose_init["FANOUT_PARTITIONS"], {}))
    assert topics[EVENTS]["partitions"] == int(init_env()["FANOUT_PARTITIONS"]) == partitions
    assert all(topics[t]["partitions"] == 1 for t in per_service)  # shared/consumer.py
    replicas = int(init_env()["FANOUT_REPLICATION"])
    for spec in topics.values():  # dead letters are kept as safely as the events
        assert (spec["replicas"], spec["config"]["min.insync.replicas"]) == (replicas, 2)
    (pool,) = of_kind("KafkaNodePool").values()
    assert pool["spec"]["replicas"] >= replicas


def test_the_broker_authenticates_and_authorizes_everyone() -> None:
    (kafka,) = of_kind("Kafka").values()
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert [x["authentication"]["type"] for x in listeners] == ["scram-sha-512"] * len(listeners)
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False


def test_one_principal_per_process_with_least_privilege() -> None:
    users = of_kind("KafkaUser")
    assert set(users) == {"publisher", *SERVICES, "operator", "learner", "keda"}
    assert all(u["spec"]["authentication"]["type"] == "scram-sha-512" for u in users.values())
    topic = ("topic", EVENTS, "literal")
    describe_groups = {("group", s, "literal", "Describe") for s in SERVICES}  # lag reads
    configs = {("cluster", "", "", "DescribeConfigs")}  # the overview's auto-create line
    assert acls(users["publisher"]) == (
        {(*topic, "Write"), (*topic, "Describe")} | describe_groups | configs
    )
    for s in SERVICES:
        dlq = ("topic", dlq_topic(EVENTS, s), "literal")
        redrive = ("topic", redrive_topic(EVENTS, s), "literal")
        assert acls(users[s]) == {
            (*topic, "Read"),
            (*topic, "Describe"),
            (*redrive, "Read"),
            (*redrive, "Describe"),
            ("group", s, "literal", "Read"),
            (*dlq, "Write"),
            (*dlq, "Describe"),
            (*dlq, "DescribeConfigs"),
        }
    assert acls(users["learner"]) == {
        (*topic, "Write"),
        (*topic, "Read"),
        (*topic, "Describe"),
        ("group", "learner", "prefix", "Read"),
    }
    assert acls(users["keda"]) == {(*topic, "Describe")} | describe_groups
    assert ("topic", EVENTS, "prefix", "All") in acls(users["operator"])


def test_each_service_group_scales_on_its_lag_up_to_the_partitions() -> None:
    scaled = of_kind("ScaledObject")
    assert set(scaled) == set(SERVICES)
    (events,) = [t for t in of_kind("KafkaTopic").values() if t["spec"]["topicName"] == EVENTS]
    auth = of_kind("TriggerAuthentication")
    for s, obj in scaled.items():
        spec = obj["spec"]
        assert spec["scaleTargetRef"]["name"] == s and s in of_kind("Deployment")
        bounds = (spec["minReplicaCount"], spec["maxReplicaCount"])
        assert bounds == (1, events["spec"]["partitions"])
        (trigger,) = spec["triggers"]
        meta = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert (meta["consumerGroup"], meta["topic"]) == (s, EVENTS)
        assert meta["allowIdleConsumers"] == "false"
        assert meta["bootstrapServers"] == init_env()["KAFKA_BOOTSTRAP_SERVERS"]
        assert trigger["authenticationRef"]["name"] in auth
    (ta,) = auth.values()
    (password,) = ta["spec"]["secretTargetRef"]
    assert password["name"] == "keda"  # the User Operator's Secret of principal keda


def test_postgres_is_compose_s_database() -> None:
    (pg,) = of_kind("Cluster").values()
    assert pg["spec"]["bootstrap"]["initdb"]["database"] == "fanout"
    assert pg["spec"]["imageName"].endswith(":15")  # compose.yml: postgres:15
    assert pg["spec"]["enableSuperuserAccess"] is True  # init migrates as the superuser
    volumes = {v["name"]: v for v in workloads()["init"]["spec"]["template"]["spec"]["volumes"]}
    name = pg["metadata"]["name"]
    assert volumes["secret-postgres"]["secret"]["secretName"] == f"{name}-superuser"
    assert f"@{name}-rw:" in init_env()["DATABASE_URL"]
