"""`./fanout bench`: on a private stack (.state/bench), a pre-filled backlog drained by fanout's
three services, by the no-framework ceiling and (``--peer quix``) by a Quix Streams pipeline,
each with fresh consumer groups and timed from outside (bench/clock.py); then publish→persisted
latency at a fixed rate, peak RSS, the same backlog drained again by the services with
OFFSET_STORE=database, and the database-only ceiling of our writes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.bench import latency
from infra.bench import peers as bench_peers
from infra.bench import profile as bench_profile
from infra.bench import services as bench_services
from infra.bench.burst import Burst, measure
from infra.bench.clock import Drain, GroupWatch, Procs, cpu_snapshot, drain, peak_rss_mb
from infra.init import migrate
from infra.local.stack import Stack
from infra.local.supervisor import Supervisor
from infra.settings import BenchStackSettings
from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from services.registry import SERVICES
from shared.broker import log_end_offsets
from shared.events import Event
from shared.settings import ServiceSettings


@dataclass
class BenchOptions:
    events: int = 100_000
    # The latency runs: each rate for ``latency_seconds`` (at least 100 events).
    rates: tuple[float, ...] = (200, 2000, 20000)
    latency_seconds: float = 10
    # Unmeasured, before the latency runs (latency.warm_up): 0 measures a cold start.
    warm_up_seconds: float = 30
    batch: int = ServiceSettings.model_fields["batch_max"].default  # the services' own
    peers: tuple[str, ...] = ()
    profile: str | None = None


@dataclass
class BenchResult:
    events: int
    publish_events_per_s: float = 0
    # Each pipeline's drain of the same backlog: fanned-out events/s, CPU µs per event.
    drains: dict[str, Drain] = field(default_factory=dict)
    # fanout/quix: the peer with the library's defaults; _tuned: the peer tuned for speed.
    ratio_to_quix: float | None = None
    ratio_to_quix_tuned: float | None = None
    ratio_to_ceiling: float = 0
    # The same comparison by CPU µs per fanned-out event (theirs / ours, > 1: fanout is cheaper):
    # steadier than rates when other work shares the machine.
    cpu_ratio_to_quix: float | None = None
    cpu_ratio_to_quix_tuned: float | None = None
    cpu_ratio_to_ceiling: float = 0
    fanout_events_per_s: float = 0
    # fanout's CPU µs per fanned-out event by component (publisher: while pre-filling): on
    # 2 cores, their sum bounds the throughput at 2e6 / sum events/s.
    cpu_us_per_event: dict[str, float] = field(default_factory=dict)
    # Per rate (events/s, as text: JSON keys), per service: p50, p99 (ms) and events; taken
    # after warm_up_seconds unmeasured at the middle rate.
    warm_up_seconds: float = 0
    latency_ms: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    # Per rate, the CPU cores each process used during its run (services, broker, PostgreSQL,
    # publisher: the bench's own process, which publishes): 2.0 is this machine's all.
    latency_cores: dict[str, dict[str, float]] = field(default_factory=dict)
    # VmHWM after the backlog drain and the latency runs: the peak of both.
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    db_ceiling_events_per_s: float = 0
    ratio_to_db_ceiling: float = 0
    profile: str | None = None
    profile_database: str | None = None  # the same service, in the OFFSET_STORE=database drain
    # fanout with OFFSET_STORE=database against the default (kafka): rate, and CPU per event
    # (kafka's / database's, < 1: database mode costs more).
    ratio_database_offsets: float = 0
    cpu_ratio_database_offsets: float = 0
    # Batch time with and without a burst of heavy dashboard GETs (infra/bench/burst.py).
    burst: Burst | None = None
    # Retention's batched DELETE of audit's deliveries: rows, seconds.
    retention_rows: int = 0
    retention_seconds: float = 0


def publish_events(
    bootstrap: str, topic: str, count: int, rate: float, seed: int
) -> tuple[list[str], float, float]:
    """Publish with acks=all; returns the event ids, the seconds and the CPU seconds it took."""

    async def go() -> tuple[list[str], float, float]:
        producer = make_producer(bootstrap, "all")
        await producer.start()
        try:
            # Flat out: events are made before the clock starts. Paced: made as sent, so
            # each event's time is its send time (the latency run measures from it).
            source: Iterable[Event] = (
                list(events(count, seed=seed)) if rate == 0 else events(count, seed=seed)
            )
            ids: list[str] = []
            cpu, start = os.times(), time.perf_counter()
            result = await publish(producer, topic, _tap(source, ids), rate=rate)
            seconds, used = time.perf_counter() - start, os.times()
            assert result.acknowledged == count, f"only {result.acknowledged}/{count} acked"
            return ids, seconds, used.user + used.system - cpu.user - cpu.system
        finally:
            await producer.stop()

    return asyncio.run(go())


def _tap(source: Iterable[Event], ids: list[str]) -> Iterator[Event]:
    for e in source:
        ids.append(str(e.event_id))
        yield e


def _db_ceiling(stack: Stack, count: int, batch: int) -> float:
    """The same idempotent writes, no Kafka: three writer processes in parallel."""
    specs = {s.name: s for s in Supervisor(stack).specs()}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "infra.bench.db_ceiling", s, str(count), str(batch)],
            env={**stack.env(), **specs[s].env},
            stdout=subprocess.PIPE,
            text=True,
        )
        for s in SERVICES
    ]
    seconds = [float(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in procs]
    return count / max(seconds)


def _drain_peer(stack: Stack, watch: GroupWatch, pipeline: str) -> Drain:
    if pipeline in bench_peers.QUIX_FORMS:
        procs = bench_peers.spawn_quix(stack, pipeline)
    else:
        procs = bench_peers.spawn_ceiling(stack, pipeline)
    try:
        return drain(stack, watch, pipeline, procs, bench_peers.groups(pipeline))
    finally:
        bench_peers.stop_all(procs)


def _drain_fanout(
    stack: Stack, watch: GroupWatch, running: Procs, profile: str | None, result: BenchResult
) -> Drain:
    pid = running[profile].pid if profile else None
    sampler = bench_profile.Sampler(pid, stack.home / f"profile-{profile}.txt")
    try:
        return drain(stack, watch, "fanout", running, list(SERVICES), on_start=sampler.start)
    finally:
        result.profile = sampler.finish()


def _throughput(
    stack: Stack, result: BenchResult, opts: BenchOptions, running: Procs
) -> GroupWatch:
    """Pre-fill the backlog, then drain it: the ceiling, the peers, fanout, the ceiling again.
    The ceiling brackets the others so the ratio is taken against the mean of a drain before
    and one after (the machine is shared: its load moves during a run)."""
    topic, count = stack.settings.topic, result.events
    _, seconds, cpu = publish_events(stack.bootstrap, topic, count, 0, seed=1)
    result.publish_events_per_s = round(count / seconds)
    watch = GroupWatch(stack.bootstrap, topic, asyncio.run(log_end_offsets(stack.bootstrap, topic)))
    for pipeline in ("ceiling", *bench_peers.pipelines(opts.peers)):
        result.drains[pipeline] = _drain_peer(stack, watch, pipeline)
    running.update(bench_services.spawn_services(stack, opts.batch))
    fanout = _drain_fanout(stack, watch, running, opts.profile, result)
    result.drains["fanout"] = fanout
    result.drains["ceiling-after"] = _drain_peer(stack, watch, "ceiling-after")
    result.cpu_us_per_event = {**fanout.cpu_us_per_event, "publisher": round(cpu / count * 1e6, 1)}
    ratios(result)
    return watch


def ratios(result: BenchResult) -> None:
    """fanout's rate over each contender's (ceiling: the mean of its drain before and after
    fanout's), and the contender's CPU µs per event over fanout's."""
    fanout = result.drains["fanout"]
    result.fanout_events_per_s = fanout.events_per_s
    ceilings = [result.drains["ceiling"], result.drains["ceiling-after"]]
    ceiling = sum(d.events_per_s for d in ceilings) / 2
    result.ratio_to_ceiling = round(fanout.events_per_s / ceiling, 2)
    ceiling_cpu = sum(d.cpu_total for d in ceilings) / 2
    result.cpu_ratio_to_ceiling = round(ceiling_cpu / fanout.cpu_total, 2)
    if (quix := result.drains.get("quix")) is not None:
        result.ratio_to_quix, result.cpu_ratio_to_quix = _against(fanout, quix)
    if (tuned := result.drains.get("quix-tuned")) is not None:
        result.ratio_to_quix_tuned, result.cpu_ratio_to_quix_tuned = _against(fanout, tuned)


def _against(fanout: Drain, other: Drain) -> tuple[float, float]:
    """(fanout's rate / theirs, their CPU per event / fanout's)."""
    return (
        round(fanout.events_per_s / other.events_per_s, 2),
        round(other.cpu_total / fanout.cpu_total, 2),
    )


def _latency_run(stack: Stack, result: BenchResult, opts: BenchOptions, running: Procs) -> None:
    def publish(count: int, rate: float, seed: int) -> list[str]:
        return publish_events(stack.bootstrap, stack.settings.topic, count, rate, seed)[0]

    latency.settle(stack.database_url)
    if opts.warm_up_seconds:
        warm = opts.rates[len(opts.rates) // 2]  # the middle rate: 2,000/s by default
        latency.warm_up(stack.bootstrap, stack.settings.topic, publish, warm, opts.warm_up_seconds)
        result.warm_up_seconds = opts.warm_up_seconds
    for i, rate in enumerate(opts.rates):
        with latency.Cores(lambda: cpu_snapshot(stack, running)) as cores:
            result.latency_ms[f"{rate:g}"] = latency.run_at(
                stack.bootstrap, stack.settings.topic, stack.database_url, publish, rate,
                opts.latency_seconds, seed=10 + i,
            )  # fmt: skip
        result.latency_cores[f"{rate:g}"] = cores.used
    result.peak_rss_mb = {s: peak_rss_mb(p.pid) for s, p in running.items()}


def _burst_run(stack: Stack, opts: BenchOptions) -> Burst:
    """A backlog of ``opts.events`` drained by the running services, its batches timed
    without and with a burst of dashboard GETs: three windows of a quarter of them each."""
    ports = {s.name: s.web_port for s in Supervisor(stack).specs() if s.name in SERVICES}
    topic = stack.settings.topic

    def backlog() -> None:
        publish_events(stack.bootstrap, topic, opts.events, 0, seed=3)

    window = max(2, opts.events // opts.batch // 4)
    return measure({n: p for n, p in ports.items() if p}, backlog, window)


def run_bench(opts: BenchOptions) -> BenchResult:
    stack = Stack(BenchStackSettings(), "bench")
    shutil.rmtree(stack.home, ignore_errors=True)
    result = BenchResult(events=opts.events)
    stack.start_infra()
    running: Procs = {}
    try:
        migrate(stack.database_url)
        watch = _throughput(stack, result, opts, running)
        _latency_run(stack, result, opts, running)
        result.burst = _burst_run(stack, opts)
        bench_services.drain_database_offsets(stack, watch, running, opts, result)
        bench_peers.stop_all(running)
        rows, seconds = bench_services.retention_cost(stack.database_url)
        result.retention_rows, result.retention_seconds = rows, round(seconds, 2)
        bench_services.truncate(stack.database_url)
        result.db_ceiling_events_per_s = round(_db_ceiling(stack, opts.events, opts.batch))
        result.ratio_to_db_ceiling = round(
            result.fanout_events_per_s / result.db_ceiling_events_per_s, 2
        )
    finally:
        bench_peers.stop_all(running)
        stack.stop_infra()
    Path(stack.home / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result
