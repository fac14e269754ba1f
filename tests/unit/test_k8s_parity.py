"""deploy/k8s/ held to compose.yml: the same processes, commands and variable names (values
may differ: addresses, secrets), the same secret files; the topics, principals and autoscaling
bounds the platform implies. Every deliberate difference is listed here, with its reason."""

from __future__ import annotations

from urllib.parse import urlsplit

import yaml

from infra.compose.spec import COMPOSE, COMPOSE_ONLY, INFRA_SERVICES, interpolate
from services.registry import LAYOUT
from tests.support.k8s_manifests import (
    Doc,
    container,
    env_names,
    of_kind,
    patched_env_names,
    workloads,
)
from tests.support.k8s_schemas import K8S

# compose.yml's services that are not Kubernetes workloads of their own.
NOT_WORKLOADS = {
    # Passwords are Kubernetes Secrets: CloudNativePG makes the superuser's, the roles' are
    # created once by hand (deploy/k8s/README.md); nothing writes files into volumes.
    "secrets": "Kubernetes Secrets",
    "kafka": "Kafka",  # a Strimzi Kafka cluster (kafka.yaml)
    "postgres": "Cluster",  # a CloudNativePG cluster (postgres.yaml)
}
# Variables compose.yml has and the cluster does not: compose passes `.env`'s passwords
# through; in the cluster every password is a file (the *_FILE beside each stays).
# Under compose init also makes the SCRAM users (their passwords, *_KAFKA_PASSWORD[_FILE], and
# their secret volumes); in the cluster Strimzi's User Operator makes them from users.yaml.
MANAGED_BY_STRIMZI = {
    f"{p.upper()}_KAFKA_PASSWORD{end}"
    for p in ("publisher", "analytics", "billing", "audit", "learner")
    for end in ("", "_FILE")
}
ONLY_IN_COMPOSE = {
    "init": {
        "ANALYTICS_DB_PASSWORD",
        "BILLING_DB_PASSWORD",
        "AUDIT_DB_PASSWORD",
        "READER_DB_PASSWORD",
        *MANAGED_BY_STRIMZI,
    },
    **{p.name: set() for p in LAYOUT.processes},
}
for _only in ONLY_IN_COMPOSE.values():
    _only.add("KAFKA_PASSWORD")  # `.env`'s value; the cluster reads KAFKA_PASSWORD_FILE only
MOUNTS_ONLY_IN_COMPOSE = {
    "init": {f"/run/secrets/fanout/kafka-{p}" for p in
             ("publisher", "analytics", "billing", "audit", "learner")},
}  # fmt: skip
# Variables only the cluster sets: the dashboards answer their Service's names (compose
# reaches them as localhost through published ports).
ONLY_IN_K8S = {p.name: {"WEB_ALLOWED_HOSTS"} for p in LAYOUT.processes}
# The Kafka credentials' variables: kafka-credentials.yaml (the one place) sets these in every
# workload, and nothing else does. compose sets the username and the password file; the
# protocol and mechanism are its defaults (SASL_PLAINTEXT, SCRAM-SHA-512), which the cluster
# states (init's mechanism differs: compose's operator is PLAIN, the cluster's a KafkaUser).
KAFKA_CREDENTIALS = {
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_USERNAME",
    "KAFKA_PASSWORD_FILE",
}
# Values that are the cluster's own; every other value is compose.yml's default.
VALUES_OF_THE_CLUSTER = {
    "KAFKA_BOOTSTRAP_SERVERS",  # the Strimzi bootstrap Service
    "DATABASE_URL",  # the CloudNativePG read-write Service (user and database: compose's)
    "READER_DATABASE_URL",
    "FANOUT_REPLICATION",  # three brokers: 3 (compose's one broker: 1)
    "WEB_ALLOWED_HOSTS",
    *KAFKA_CREDENTIALS,
}
PRINCIPALS = {"init": "operator", **{p.name: p.name for p in LAYOUT.processes}}


def compose_services() -> dict[str, Doc]:
    services: dict[str, Doc] = yaml.safe_load(COMPOSE.read_text())["services"]
    return services


def compose_processes() -> dict[str, Doc]:
    skip = INFRA_SERVICES | COMPOSE_ONLY
    return {n: s for n, s in compose_services().items() if n not in skip}


def test_the_same_processes() -> None:
    assert set(compose_services()) - set(compose_processes()) == set(NOT_WORKLOADS)
    assert list(workloads()) == list(compose_processes())  # init first, then the rest
    assert list(of_kind("Job")) == ["init"]
    assert len(of_kind("Kafka")) == len(of_kind("Cluster")) == 1


def test_the_same_commands_and_image() -> None:
    image = compose_services()["init"]["image"]
    for name, svc in compose_processes().items():
        c = container(workloads()[name])
        assert c["command"] == svc["command"], name
        assert c["image"] == image, name


def variable_differences(compose: dict[str, Doc], k8s: dict[str, Doc]) -> dict[str, str]:
    """Per process, what differs in variable names beyond the deliberate differences."""
    found = {}
    for name, svc in compose.items():
        ours = env_names(k8s[name])
        only_compose = set(svc["environment"]) - set(ours) - ONLY_IN_COMPOSE.get(name, set())
        expected = ONLY_IN_K8S.get(name, set()) | (KAFKA_CREDENTIALS - set(svc["environment"]))
        only_k8s = set(ours) - set(svc["environment"])
        if only_compose or only_k8s != expected or len(ours) != len(set(ours)):
            found[name] = f"only in compose {sorted(only_compose)}, in k8s {sorted(only_k8s)}"
    return found


def test_the_same_variables_per_process() -> None:
    assert variable_differences(compose_processes(), workloads()) == {}


def test_a_variable_added_to_compose_breaks_parity() -> None:
    compose = compose_processes()
    compose["billing"]["environment"]["BATCH_MAX"] = "500"
    assert variable_differences(compose, workloads()) == {
        "billing": "only in compose ['BATCH_MAX'], in k8s "
        + str(sorted(ONLY_IN_K8S["billing"] | {"KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM"}))
    }


def test_the_same_values_where_they_are_not_the_clusters() -> None:
    for name, svc in compose_processes().items():
        k8s = {e["name"]: e["value"] for e in container(workloads()[name])["env"]}
        for var, value in svc["environment"].items():
            if var in k8s and var not in VALUES_OF_THE_CLUSTER:
                assert k8s[var] == interpolate(str(value), {}), f"{name}: {var}"


def test_database_urls_name_compose_users_and_database_and_no_password() -> None:
    for name, svc in compose_processes().items():
        k8s = {e["name"]: e["value"] for e in container(workloads()[name])["env"]}
        for var in ("DATABASE_URL", "READER_DATABASE_URL"):
            if var in svc["environment"]:
                ours, theirs = urlsplit(k8s[var]), urlsplit(svc["environment"][var])
                assert (ours.username, ours.path) == (theirs.username, theirs.path), name
                assert ours.password == "" and ours.hostname == "fanout-pg-rw", name


def mount_paths(workload: Doc) -> set[str]:
    return {m["mountPath"] for m in container(workload).get("volumeMounts", [])}


def test_the_same_secret_files() -> None:
    """compose's secret volumes are mounted at the same paths; every *_FILE is in a mount."""
    for name, svc in compose_processes().items():
        workload = workloads()[name]
        compose = {v.split(":")[1] for v in svc.get("volumes", [])}
        assert mount_paths(workload) == compose - MOUNTS_ONLY_IN_COMPOSE.get(name, set()), name
        for e in container(workload)["env"]:
            if e["name"].endswith("_FILE"):
                assert any(e["value"].startswith(f"{m}/") for m in mount_paths(workload)), e


def test_kafka_credentials_live_in_one_place() -> None:
    """Only kafka-credentials.yaml names them; each process is its own principal."""
    base = "".join(p.read_text() for p in K8S.glob("*.yaml") if p.name != "kafka-credentials.yaml")
    assert not any(var in base for var in KAFKA_CREDENTIALS)
    users = of_kind("KafkaUser")
    for name, workload in workloads().items():
        assert patched_env_names(name) == KAFKA_CREDENTIALS, name
        env = {e["name"]: e.get("value") for e in container(workload)["env"]}
        assert PRINCIPALS[name] in {env[v] for v in KAFKA_CREDENTIALS}, name  # its username
        secret = {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}
        assert secret["secret-kafka"]["secret"]["secretName"] == PRINCIPALS[name] in users


def test_dashboards_have_services_on_their_ports() -> None:
    services = of_kind("Service")
    assert set(services) == {p.name for p in LAYOUT.processes}
    for process in LAYOUT.processes:
        (port,) = services[process.name]["spec"]["ports"]
        (web,) = container(workloads()[process.name])["ports"]
        assert port["port"] == web["containerPort"] == process.web_port
        assert compose_services()[process.name]["ports"]  # compose publishes it too
