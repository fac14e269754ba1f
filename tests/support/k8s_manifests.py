"""deploy/k8s/ read as `kubectl apply -k` would build it: its resources, with the Kafka
credentials patch (kafka-credentials.yaml) merged in as a strategic merge patch does."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.support.k8s_schemas import K8S

Doc = dict[str, Any]
KUSTOMIZATION = K8S / "kustomization.yaml"
# Strategic merge keys of the lists the patch touches (Kubernetes' own patchMergeKey).
MERGE_KEYS = {"containers": "name", "env": "name", "volumes": "name", "volumeMounts": "mountPath"}


def load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def kustomization() -> Doc:
    doc: Doc = yaml.safe_load(KUSTOMIZATION.read_text())
    return doc


def patch_files() -> list[Path]:
    return [K8S / p for p in kustomization().get("patchesStrategicMerge", [])]


def merge(base: Any, patch: Any, key: str = "") -> Any:
    """``patch`` over ``base``: maps merge, keyed lists merge item by item, the rest replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        by = MERGE_KEYS[key]
        patched = {item[by]: item for item in patch}
        kept = [merge(b, patched[b[by]]) if b[by] in patched else b for b in base]
        known = {b[by] for b in base}
        # New items go first, as kustomize's strategic merge puts them.
        return [copy.deepcopy(i) for i in patch if i[by] not in known] + kept
    return copy.deepcopy(patch)


def ident(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def resources() -> list[Doc]:
    """Every resource as applied: the kustomization's files, the patches merged in."""
    return copy.deepcopy(_resources())


@cache
def _resources() -> list[Doc]:
    docs = [d for name in kustomization()["resources"] for d in load(K8S / name)]
    by_id = {ident(d): i for i, d in enumerate(docs)}
    for path in patch_files():
        for patch in load(path):
            if ident(patch) not in by_id:
                raise AssertionError(f"{path.name} patches {ident(patch)}, which is not a resource")
            i = by_id[ident(patch)]
            docs[i] = merge(docs[i], patch)
    return docs


def of_kind(kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in resources() if d["kind"] == kind}


def workloads() -> dict[str, Doc]:
    """compose.yml's processes as Kubernetes runs them: the Job and the Deployments."""
    return {**of_kind("Job"), **of_kind("Deployment")}


def container(workload: Doc) -> Doc:
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env_names(workload: Doc) -> list[str]:
    return [e["name"] for e in container(workload).get("env", [])]


def patched_env_names(name: str) -> set[str]:
    """The variables the credentials patch gives workload ``name``."""
    return {
        e["name"]
        for path in patch_files()
        for patch in load(path)
        if patch["metadata"]["name"] == name
        for c in patch["spec"]["template"]["spec"]["containers"]
        for e in c.get("env", [])
    }
