"""The bench's runs of fanout's own services: spawned with an offset strategy (and groups of
their own for ``database``), and the same backlog drained again with OFFSET_STORE=database."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import psycopg

from infra.bench import peers as bench_peers
from infra.bench.clock import GroupWatch, Procs, drain
from infra.bench.profile import Sampler
from infra.local.stack import Stack
from infra.local.supervisor import Supervisor
from services.registry import SERVICES

if TYPE_CHECKING:
    from infra.bench.run import BenchOptions, BenchResult


def truncate(url: str) -> None:
    with psycopg.connect(url) as conn:
        for s in SERVICES:
            conn.execute(f"TRUNCATE {s}.inbox, {s}.progress")
        conn.execute("TRUNCATE analytics.type_minute_counts, billing.ledger, billing.balances")


def spawn_services(
    stack: Stack,
    batch: int | None,
    offset_store: str = "kafka",
    group_suffix: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> Procs:
    """The three services (``batch`` None: their own BATCH_MAX); with ``group_suffix`` in
    groups of their own (``<service>-<suffix>``: a prefix their broker rights allow), so the
    same backlog is drained again from its start; ``extra`` goes into their environment."""
    running: Procs = {}
    sup = Supervisor(stack)
    for spec in sup.specs():
        if spec.name in SERVICES:
            spec.env["OFFSET_STORE"] = offset_store
            if batch is not None:
                spec.env["BATCH_MAX"] = str(batch)
            if group_suffix is not None:
                spec.env["CONSUMER_GROUP"] = f"{spec.name}-{group_suffix}"
            spec.env.update(extra or {})
            running[spec.name] = sup.spawn(spec)
    return running


def groups(group_suffix: str) -> list[str]:
    """The groups ``spawn_services`` gave the services for ``group_suffix``."""
    return [f"{s}-{group_suffix}" for s in SERVICES]


def drain_database_offsets(
    stack: Stack, watch: GroupWatch, running: Procs, opts: BenchOptions, result: BenchResult
) -> None:
    """The same backlog, the same services with OFFSET_STORE=database (fresh groups, the
    database emptied: its inbox would absorb it all), after the latency run (which needs the
    default services running, caught up); ``--profile`` samples this drain too."""
    bench_peers.stop_all(running)
    truncate(stack.database_url)
    procs = spawn_services(stack, opts.batch, "database", group_suffix="database")
    pid = procs[opts.profile].pid if opts.profile else None
    sampler = Sampler(pid, stack.home / f"profile-{opts.profile}-database.txt")
    try:
        db = drain(stack, watch, "fanout-db", procs, groups("database"), on_start=sampler.start)
    finally:
        result.profile_database = sampler.finish()
        bench_peers.stop_all(procs)
    result.drains["fanout-db"] = db
    kafka = result.drains["fanout"]
    result.ratio_database_offsets = round(db.events_per_s / kafka.events_per_s, 2)
    result.cpu_ratio_database_offsets = round(kafka.cpu_total / db.cpu_total, 2)


def retention_cost(url: str) -> tuple[int, float]:
    """Rows of audit's redeliveries and the seconds retention takes to delete them all (its
    batched DELETE, as the service's timer runs it): the cost of the periodic delete."""
    import asyncio
    import time

    from services.audit.tables import RETAINED
    from shared.db import async_engine
    from shared.retention import prune

    async def go() -> tuple[int, float]:
        engine = async_engine(url, pool_size=1)
        try:
            start = time.perf_counter()
            deleted = await prune(engine, "audit", RETAINED, hours=0)
            return deleted["redeliveries"], time.perf_counter() - start
        finally:
            await engine.dispose()

    return asyncio.run(go())
