"""What a process's own web endpoints say: /health, /metrics, /crash and the dashboards'
JSON APIs (all on 127.0.0.1:<port>)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from shared.local_only import crash_request

READ_APIS = {
    "analytics": ("/api/minutes?minutes=1440",),
    "billing": ("/api/ledger",),
    "audit": ("/api/events",),
}
COMMON_APIS = ("/api/summary", "/api/partitions", "/api/recent?limit=200", "/api/throughput")


def get_json(port: int, path: str, timeout: float = 10) -> dict[str, Any]:
    """A JSON API that must answer 200."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        assert r.status == 200, f"{path}: {r.status}"
        return dict(json.loads(r.read()))


def health(port: int) -> dict[str, Any]:
    """/health's body and ``status``, also when it answers 503 (database down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            body = json.loads(r.read())
            body["status"] = r.status
    except urllib.error.HTTPError as err:
        body = json.loads(err.read())
        body["status"] = err.code
    return dict(body)


def metric(port: int, name: str) -> float:
    """Sum of a Prometheus sample over its labels (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def arm_crash(port: int) -> bytes:
    """What `./fanout crash SERVICE` sends: POST /crash; returns the answer's body."""
    with urllib.request.urlopen(crash_request(port), timeout=5) as answer:
        return bytes(answer.read())


def read_apis(name: str, port: int) -> dict[str, dict[str, Any]]:
    """Every JSON API of one service's dashboard; each must answer 200 with no error."""
    out = {}
    for path in (*COMMON_APIS, *READ_APIS[name]):
        body = get_json(port, path)
        assert "error" not in body, f"{name} {path}: {body['error']}"
        out[path] = body
    summary = out["/api/summary"]
    assert summary["db"]["read_error"] is None, summary["db"]
    assert summary["broker"]["up"], summary["broker"]
    return out
