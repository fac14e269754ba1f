"""`./fanout bench`: fan-out throughput, publish→persisted latency, peak RSS, and the
database ceiling, on a private stack (.state/bench) so numbers are not disturbed."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import psycopg

from infra import proc
from infra.init import migrate
from infra.settings import BenchStackSettings
from infra.stack import Stack
from infra.supervisor import Supervisor
from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from shared.broker import committed_offsets, log_end_offsets
from shared.events import Event
from shared.polling import wait_for

SERVICES = ("analytics", "billing", "audit")


@dataclass
class BenchResult:
    events: int
    publish_events_per_s: float = 0
    fanout_events_per_s: float = 0
    latency_rate: float = 0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    db_ceiling_events_per_s: float = 0
    ratio_to_ceiling: float = 0
    # CPU microseconds per fanned-out event, by component, during the throughput run:
    # on 2 cores, their sum bounds the throughput at 2e6 / sum events/s.
    cpu_us_per_event: dict[str, float] = field(default_factory=dict)


def _publish(
    bootstrap: str, topic: str, count: int, rate: float, seed: int
) -> tuple[list[str], float]:
    """Publish with acks=all; returns the event ids and the seconds it took."""

    async def go() -> tuple[list[str], float]:
        producer = make_producer(bootstrap, "all")
        await producer.start()
        try:
            # Flat out: events are made before the clock starts. Paced: made as sent, so
            # each event's time is its send time (the latency run measures from it).
            source: Iterable[Event] = (
                list(events(count, seed=seed)) if rate == 0 else events(count, seed=seed)
            )
            ids: list[str] = []
            start = time.perf_counter()
            result = await publish(producer, topic, _tap(source, ids), rate=rate)
            assert result.acknowledged == count, f"only {result.acknowledged}/{count} acked"
            return ids, time.perf_counter() - start
        finally:
            await producer.stop()

    return asyncio.run(go())


def _tap(source: Iterable[Event], ids: list[str]) -> Iterator[Event]:
    for e in source:
        ids.append(str(e.event_id))
        yield e


def _cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(ppid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return out


def _cpu_snapshot(stack: Stack, services: dict[str, subprocess.Popen[bytes]]) -> dict[str, float]:
    """CPU seconds used so far by each part of the platform (postgres: all its backends)."""
    snap = {name: _cpu_seconds(p.pid) for name, p in services.items()}
    snap["kafka"] = sum(_cpu_seconds(n.process.pid) for n in stack.kafka.members if n.process)
    if stack.postgres is not None and stack.postgres.process is not None:
        pm = stack.postgres.process.pid
        snap["postgres"] = sum(_cpu_seconds(p) for p in [pm, *_children(pm)])
    t = os.times()
    snap["publisher"] = t.user + t.system
    return snap


def _all_committed(bootstrap: str, topic: str) -> bool:
    ends = asyncio.run(log_end_offsets(bootstrap, topic))
    return all(asyncio.run(committed_offsets(bootstrap, s, topic)) == ends for s in SERVICES)


def _positioned(port: int | None) -> int:
    """How many partitions a service reads from (its /health)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
        return len(json.loads(r.read())["positioned"])


def _latency(url: str, schema: str, ids: list[str]) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            f"SELECT percentile_cont(array[0.5, 0.99]) WITHIN GROUP "
            f"(ORDER BY extract(epoch FROM persisted_at - event_time)) "
            f"FROM {schema}.inbox WHERE event_id = ANY(%s::uuid[])",
            (ids,),
        ).fetchone()
    assert row is not None
    p50, p99 = row[0]
    return {"p50": round(p50 * 1000, 1), "p99": round(p99 * 1000, 1)}


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _db_ceiling(stack: Stack, count: int, batch: int) -> float:
    """The same idempotent writes, no Kafka: three writer processes in parallel."""
    sup = Supervisor(stack)
    specs = {s.name: s for s in sup.specs()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "infra.bench_db", s, str(count), str(batch)],
            env={**stack.env(), **specs[s].env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for s in SERVICES
    ]
    seconds = [float(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    return count / max(seconds)


def _truncate(url: str) -> None:
    with psycopg.connect(url) as conn:
        for s in SERVICES:
            conn.execute(f"TRUNCATE {s}.inbox, {s}.progress")
        conn.execute(
            "TRUNCATE analytics.type_minute_counts, billing.ledger, billing.balances, audit.events"
        )


def run_bench(count: int, rate: float, latency_count: int, batch: int) -> BenchResult:
    stack = Stack(BenchStackSettings(), "bench")
    shutil.rmtree(stack.home, ignore_errors=True)
    result = BenchResult(events=count, latency_rate=rate)
    topic = stack.settings.topic
    stack.start_infra()
    running: dict[str, subprocess.Popen[bytes]] = {}
    try:
        migrate(stack.database_url)
        sup = Supervisor(stack)
        for spec in sup.specs():
            if spec.name in SERVICES:
                spec.env["BATCH_MAX"] = str(batch)
                running[spec.name] = sup.spawn(spec)
                port = spec.web_port
                wait_for(partial(_positioned, port), timeout=90, what=f"{spec.name} ready")
        before = _cpu_snapshot(stack, running)
        start = time.perf_counter()
        _, publish_s = _publish(stack.bootstrap, topic, count, 0, seed=1)
        wait_for(
            lambda: _all_committed(stack.bootstrap, topic),
            timeout=900,
            interval=0.05,
            what="all three services to persist and commit every event",
        )
        elapsed = time.perf_counter() - start
        after = _cpu_snapshot(stack, running)
        result.cpu_us_per_event = {k: round((after[k] - before[k]) / count * 1e6, 1) for k in after}
        result.publish_events_per_s = round(count / publish_s)
        result.fanout_events_per_s = round(count / elapsed)

        ids, _ = _publish(stack.bootstrap, topic, latency_count, rate, seed=2)
        wait_for(
            lambda: _all_committed(stack.bootstrap, topic),
            timeout=600,
            interval=0.2,
            what="the latency run to be persisted",
        )
        result.latency_ms = {s: _latency(stack.database_url, s, ids) for s in SERVICES}
        result.peak_rss_mb = {s: _peak_rss_mb(p.pid) for s, p in running.items()}
        for p in running.values():
            proc.stop(p)
        _truncate(stack.database_url)
        result.db_ceiling_events_per_s = round(_db_ceiling(stack, count, batch))
        result.ratio_to_ceiling = round(
            result.fanout_events_per_s / result.db_ceiling_events_per_s, 2
        )
    finally:
        for p in running.values():
            proc.stop(p)
        stack.stop_infra()
    (stack.home / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result
