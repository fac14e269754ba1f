"""Offline validation of deploy/k8s/: built-in kinds against the Kubernetes JSON schemas that
``kubernetes-validate`` ships, custom resources against the operators' CRD schemas vendored in
deploy/k8s/schemas/ (see its README for their sources and versions).

Both are strict, as an API server with strict field validation is: an unknown field fails.
The CRDs' CEL rules (``x-kubernetes-validations``) are evaluated too, with ``cel-python``;
transition rules (those that read ``oldSelf``) need a previous object and are left out.
``python -m tests.support.k8s_schemas CRD.yaml...`` rewrites the vendored files from the
operators' own CRD files (descriptions dropped: they are most of the bytes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import yaml
from referencing import Registry, Resource

from infra.paths import ROOT

K8S = ROOT / "deploy" / "k8s"
SCHEMAS = K8S / "schemas"
KUBERNETES_VERSION = "1.33"  # the oldest minor the manifests promise to fit
OBJECT_META = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
Schema = dict[str, Any]


class Invalid(ValueError):
    """A manifest that its schema refuses (or whose kind has no schema)."""


def schema_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return SCHEMAS / f"{kind.lower()}-{group.split('.')[0]}-{version}.json"


def _without_descriptions(node: Any, in_properties: bool = False) -> Any:
    """Drop ``description`` keywords; a property *named* description stays."""
    if isinstance(node, list):
        return [_without_descriptions(n) for n in node]
    if not isinstance(node, dict):
        return node
    return {
        k: _without_descriptions(v, in_properties=k == "properties" and not in_properties)
        for k, v in node.items()
        if in_properties or k != "description"
    }


def compact(crd: dict[str, Any]) -> Iterator[tuple[Path, Schema]]:
    """One schema file per served version of a CustomResourceDefinition."""
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    for version in crd["spec"]["versions"]:
        if version.get("served", True):
            schema = _without_descriptions(version["schema"]["openAPIV3Schema"])
            yield schema_file(f"{group}/{version['name']}", kind), schema


def strict(node: Any) -> Any:
    """OpenAPI v3 (as CRDs write it) to JSON Schema, closed where the API server prunes."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()}
    if "properties" in out:  # property names, not schemas: undo the keyword pass
        out["properties"] = {k: strict(v) for k, v in node["properties"].items()}
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.get("x-kubernetes-int-or-string") and "type" not in out:
        out["type"] = ["integer", "string"]
    open_ = out.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in out
    if out.get("type") == "object" and "properties" in out and not open_:
        out["additionalProperties"] = False
    return out


@cache
def _k8s_registry() -> Registry:
    folder = f"v{KUBERNETES_VERSION}.0-local-strict"
    defs = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/{folder}/_definitions.json", KUBERNETES_VERSION
    )
    return Resource.from_contents(defs) @ Registry()  # type: ignore[no-any-return]


@cache
def _crd_validator(path: Path) -> jsonschema.Draft202012Validator:
    schema = strict(_crd_schema(path))
    schema["properties"]["metadata"] = {"$ref": OBJECT_META}  # CRDs say only "object"
    return jsonschema.Draft202012Validator(schema, registry=_k8s_registry())


@cache
def _cel_program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def cel_failures(schema: Schema, value: Any, at: str = "") -> Iterator[str]:
    """The CEL rules ``value`` breaks, at every depth of ``schema``."""
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue
        try:
            result = _cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError:  # e.g. a field it reads is missing: refused there too
            result = None
        if not (isinstance(result, celpy.celtypes.BoolType) and result):
            yield f"{rule.get('message') or rule['rule']} (at {at or 'top'})"
    if isinstance(value, dict):
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key, extra)
            if isinstance(sub, dict):
                yield from cel_failures(sub, item, f"{at}/{key}".lstrip("/"))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            yield from cel_failures(schema["items"], item, f"{at}/{i}".lstrip("/"))


@cache
def _crd_schema(path: Path) -> Schema:
    schema: Schema = json.loads(path.read_text())
    return schema


def validate(doc: dict[str, Any]) -> None:
    """Raise Invalid unless ``doc`` fits its kind's schema."""
    where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
    path = schema_file(str(doc.get("apiVersion", "")), str(doc.get("kind", "")))
    try:
        if path.is_file():
            _crd_validator(path).validate(doc)
            for failure in cel_failures(_crd_schema(path), doc):
                raise Invalid(f"{where}: {failure}")
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except jsonschema.ValidationError as exc:
        at = "/".join(str(p) for p in exc.absolute_path)
        raise Invalid(f"{where}: {exc.message} (at {at or 'top'})") from None
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise Invalid(f"{where}: {exc.message}") from None


def main(paths: list[str]) -> None:
    for name in paths:
        for crd in yaml.safe_load_all(Path(name).read_text()):
            for out, schema in compact(crd):
                out.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")
                print(f"{name} -> {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
