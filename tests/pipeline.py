"""Publishing and ground truth for pipeline tests."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request
from collections import Counter, defaultdict
from decimal import Decimal

from infra.paths import ROOT
from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from shared.broker import committed_offsets, log_end_offsets
from shared.events import Event
from tests.db import Db
from tests.helpers import wait_for


def publish_events(
    bootstrap: str, topic: str, count: int, seed: int, users: int = 50
) -> list[Event]:
    """Publish ``count`` seeded events with acks=all; assert every one was acknowledged."""
    batch = list(events(count, users=users, seed=seed))

    async def go() -> int:
        producer = make_producer(bootstrap, "all")
        await producer.start()
        try:
            return (await publish(producer, topic, batch)).acknowledged
        finally:
            await producer.stop()

    assert asyncio.run(go()) == count
    return batch


def type_totals(batch: list[Event]) -> Counter[str]:
    return Counter(e.event_type for e in batch)


def balances(batch: list[Event]) -> dict[str, Decimal]:
    """Independent of billing's code: buy debits its amount, sell credits it."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for e in batch:
        if e.event_type in ("buy", "sell"):
            assert e.user_id is not None and e.amount is not None
            out[e.user_id] += -e.amount if e.event_type == "buy" else e.amount
    return dict(out)


def wait_persisted(db: Db, schema: str, expected: int, timeout: float = 120, proc=None) -> None:
    def done() -> bool:
        if proc is not None:
            proc.check_alive()
        return db.inbox_count(schema) == expected

    wait_for(
        done,
        timeout=timeout,
        what=f"{schema} to persist {expected} events",
        interval=0.25,
        detail=lambda: f"{schema} has {db.inbox_count(schema)}",
    )


def wait_committed_to_end(
    bootstrap: str, group: str, topic: str, timeout: float = 60
) -> dict[int, int]:
    """The group's committed offsets, read back from the broker, reach the log end."""
    ends = asyncio.run(log_end_offsets(bootstrap, topic))
    wait_for(
        lambda: asyncio.run(committed_offsets(bootstrap, group, topic)) == ends,
        timeout=timeout,
        what=f"{group} to commit up to {ends}",
        detail=lambda: f"committed {asyncio.run(committed_offsets(bootstrap, group, topic))}",
    )
    return ends


def run_reconcile(
    url: str, bootstrap: str, topic: str, groups: dict[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """`./fanout reconcile` as an operator runs it (its own process and exit code)."""
    argv = [
        sys.executable,
        "-m",
        "infra.cli",
        "reconcile",
        *groups,
        "--bootstrap",
        bootstrap,
        "--database-url",
        url,
        "--topic",
        topic,
        *extra,
    ]
    for service, group in groups.items():
        argv += ["--group", f"{service}={group}"]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


READ_APIS = {
    "analytics": ("/api/minutes?minutes=1440",),
    "billing": ("/api/ledger",),
    "audit": ("/api/events",),
}
COMMON_APIS = ("/api/summary", "/api/partitions", "/api/recent?limit=200", "/api/throughput")


def read_apis(name: str, port: int) -> dict[str, dict]:
    """Every JSON API of one service's dashboard; each must answer 200 with no error."""
    out = {}
    for path in (*COMMON_APIS, *READ_APIS[name]):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            assert r.status == 200, f"{name} {path}: {r.status}"
            body = json.loads(r.read())
        assert "error" not in body, f"{name} {path}: {body['error']}"
        out[path] = body
    summary = out["/api/summary"]
    assert summary["db"]["read_error"] is None, summary["db"]
    assert summary["broker"]["up"], summary["broker"]
    return out
