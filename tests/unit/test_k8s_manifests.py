"""deploy/k8s/ validated offline: built-in kinds against Kubernetes' JSON schemas, the
operators' resources against their CRD schemas (deploy/k8s/schemas/) and CEL rules, strictly —
and a broken document of each kind is refused, so the validation can fail."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.k8s_manifests import (
    KUSTOMIZATION,
    Doc,
    ident,
    kustomization,
    load,
    patch_files,
    resources,
)
from tests.support.k8s_schemas import K8S, SCHEMAS, Invalid, schema_file, validate

OPERATOR_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io", "keda.sh")


def manifest_files() -> list[str]:
    return sorted(p.name for p in K8S.glob("*.yaml") if p != KUSTOMIZATION)


def errors_of(docs: list[Doc]) -> list[str]:
    errors = []
    for doc in docs:
        try:
            validate(doc)
        except Invalid as exc:
            errors.append(str(exc))
    return errors


def test_the_kustomization_applies_every_manifest() -> None:
    k = kustomization()
    listed = sorted([*k["resources"], *k.get("patchesStrategicMerge", [])])
    assert listed == manifest_files()
    assert k["namespace"] == "fanout"


def test_every_resource_fits_its_schema() -> None:
    docs = resources()  # as applied: the credentials patch merged in
    # namespace, 2 Kafka, 7 topics, 7 users, PostgreSQL, 5 workloads, 4 Services, 5 scaling
    assert len(docs) == 32
    assert errors_of(docs) == []
    assert all(d["metadata"]["namespace"] == "fanout" for d in docs if d["kind"] != "Namespace")


def test_every_operator_resource_has_a_vendored_schema() -> None:
    """An operator kind without a schema would be refused; this names what must be vendored."""
    kinds = {(d["apiVersion"], d["kind"]) for d in resources()}
    operator = {k for k in kinds if k[0].split("/")[0] in OPERATOR_GROUPS}
    assert {kind for _, kind in operator} == {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "KafkaUser",
        "Cluster",
        "ScaledObject",
        "TriggerAuthentication",
    }
    assert all(schema_file(api, kind).is_file() for api, kind in operator)
    assert len(list(SCHEMAS.glob("*.json"))) == len(operator)


def test_the_patches_are_fragments_of_the_workloads() -> None:
    """kafka-credentials.yaml holds fragments of the five workloads (valid once merged)."""
    (path,) = patch_files()
    patches = load(path)
    assert [ident(p) for p in patches] == [
        ("Job", "init"),
        ("Deployment", "publisher"),
        ("Deployment", "analytics"),
        ("Deployment", "billing"),
        ("Deployment", "audit"),
    ]
    assert len(errors_of(patches)) == 4  # a Deployment needs its selector: not a whole one


def _parent(doc: Doc, path: str) -> tuple[Any, str]:
    """The node holding the last step of a dotted path (digits index lists), and that step."""
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    return node, last


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node, last = _parent(doc, path)
        node[last] = value

    return change


def _drop(path: str) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node, last = _parent(doc, path)
        del node[last]

    return change


BROKEN = [
    (("Deployment", "billing"), _set("spec.replica", 2), "'replica' was unexpected"),
    (
        ("Deployment", "billing"),
        _set("spec.template.spec.containers.0.env.0.valu", "x"),
        "'valu' was unexpected",
    ),
    (("Job", "init"), _set("spec.backoffLimit", "ten"), "'ten' is not of type 'integer'"),
    (("Service", "audit"), _drop("spec.ports.0.port"), "'port' is a required property"),
    (("KafkaTopic", "multi-app-events"), _set("spec.partitions", "six"), "not of type 'integer'"),
    (
        ("Kafka", "fanout"),
        _set("spec.kafka.listeners.0.authentication.type", "scram"),
        "'scram' is not one of",
    ),
    (("Kafka", "fanout"), _set("spec.kafka.replicas", 3), "'replicas' was unexpected"),
    (("KafkaNodePool", "dual-role"), _set("spec.roles", ["zookeeper"]), "is not one of"),
    (
        ("KafkaUser", "billing"),
        _set("spec.authorization.acls.0.operations", ["Reed"]),
        "'Reed' is not one of",
    ),
    (("Cluster", "fanout-pg"), _set("spec.instance", 3), "'instance' was unexpected"),
    (("Cluster", "fanout-pg"), _set("metadata.nam", "x"), "'nam' was unexpected"),
    (("ScaledObject", "billing"), _drop("spec.scaleTargetRef"), "'scaleTargetRef' is a required"),
    (("ScaledObject", "billing"), _set("spec.maxReplicas", 6), "'maxReplicas' was unexpected"),
    (
        ("TriggerAuthentication", "keda-kafka"),
        _drop("spec.secretTargetRef.0.key"),
        "'key' is a required property",
    ),
    (("KafkaTopic", "multi-app-events"), _set("kind", "KafkaTopc"), "Couldn't find schema"),
    # The CRDs' CEL rules (x-kubernetes-validations).
    (
        ("ScaledObject", "billing"),
        _set("spec.minReplicaCount", 7),
        "minReplicaCount must be less than or equal to maxReplicaCount (at spec)",
    ),
    (
        ("KafkaUser", "billing"),
        _set("spec.authentication.validityDays", 30),
        "can be configured only with 'type: tls' (at spec/authentication)",
    ),
    (
        ("Cluster", "fanout-pg"),
        _set(
            "spec.imageCatalogRef",
            {"apiGroup": "postgresql.cnpg.io", "kind": "ImageCatalog", "name": "pg", "major": 15},
        ),
        "imageName and imageCatalogRef are mutually exclusive",
    ),
]


@pytest.mark.parametrize(("which", "change", "message"), BROKEN, ids=[str(b[0]) for b in BROKEN])
def test_a_broken_document_is_refused(
    which: tuple[str, str], change: Callable[[Doc], None], message: str
) -> None:
    (doc,) = [copy.deepcopy(d) for d in resources() if ident(d) == which]
    validate(doc)  # as it stands: valid
    change(doc)
    with pytest.raises(Invalid, match=re.escape(message)):
        validate(doc)
