"""Settings of the ceiling and the Quix peer compared on one small backlog (how the defaults in
ceiling.py and peers.py were chosen): ``python -m infra.bench.sweep EVENTS ROUNDS SPEC...``.

Each SPEC is ``ceiling``, a Quix form (``quix``, ``quix-tuned``) or ``fanout`` (the three
services, the database emptied before each drain), optionally followed by
``:NAME=VALUE,NAME=VALUE`` — the variables ceiling.py, quix_app.py or the services read
(CEILING_BATCH=20000, QUIX_COMMIT_INTERVAL=1, BATCH_MAX=5000, ...; ``PYTHONPATH=TREE`` runs the
services from another checkout: two versions of the loop on one backlog).

On a private stack (.state/sweep), one backlog of EVENTS events is
pre-filled once and, after one warm-up drain, every SPEC drains it ROUNDS times through fresh
groups, the SPECs taking turns (A B A B: the machine's load moves, and each round meets it
alike); it prints each drain and then each SPEC's median events/s and CPU µs per fanned-out
event.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys

from infra.bench import peers
from infra.bench.clock import Drain, GroupWatch, drain
from infra.bench.run import publish_events
from infra.bench.services import groups as services_groups
from infra.bench.services import spawn_services, truncate
from infra.init import migrate
from infra.local.stack import Stack
from infra.settings import BenchStackSettings
from shared.broker import log_end_offsets


def parse(spec: str) -> tuple[str, dict[str, str]]:
    kind, _, rest = spec.partition(":")
    pairs = (p.split("=", 1) for p in rest.split(",") if p)
    return kind, {k: v for k, v in pairs}


def drain_once(stack: Stack, watch: GroupWatch, n: int, spec: str) -> Drain:
    kind, extra = parse(spec)
    pipeline = f"s{n}-{kind}"
    groups = peers.groups(pipeline)
    if kind == "ceiling":
        procs = peers.spawn_ceiling(stack, pipeline, extra)
    elif kind == "fanout":
        truncate(stack.database_url)  # its inbox would absorb the backlog as redeliveries
        procs = spawn_services(stack, None, group_suffix=pipeline, extra=extra)
        groups = services_groups(pipeline)
    else:
        procs = peers.spawn_quix(stack, pipeline, {**peers.QUIX_FORMS[kind], **extra})
    try:
        return drain(stack, watch, pipeline, procs, groups)
    finally:
        peers.stop_all(procs)


def sweep(events: int, rounds: int, specs: list[str]) -> dict[str, list[Drain]]:
    stack = Stack(BenchStackSettings(), "sweep")
    shutil.rmtree(stack.home, ignore_errors=True)
    stack.start_infra()
    migrate(stack.database_url)
    seen: dict[str, list[Drain]] = {s: [] for s in specs}
    try:
        topic = stack.settings.topic
        publish_events(stack.bootstrap, topic, events, 0, seed=1)
        ends = asyncio.run(log_end_offsets(stack.bootstrap, topic))
        watch = GroupWatch(stack.bootstrap, topic, ends)
        drain_once(stack, watch, 0, specs[0])  # warm-up, not counted: caches, JIT of the broker
        n = 0
        for _ in range(rounds):
            for spec in specs:
                n += 1
                d = drain_once(stack, watch, n, spec)
                seen[spec].append(d)
                print(f"{spec}: {d.events_per_s:,.0f}/s, {d.cpu_total:.1f} µs/event "
                      f"{d.cpu_us_per_event}", flush=True)  # fmt: skip
    finally:
        stack.stop_infra()
    return seen


def main() -> None:
    events, rounds, specs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    seen = sweep(events, rounds, specs)
    print("median of the rounds: events/s, CPU µs per fanned-out event")
    for spec, drains in seen.items():
        rate = statistics.median(d.events_per_s for d in drains)
        cpu = statistics.median(d.cpu_total for d in drains)
        print(f"  {rate:>9,.0f}/s {cpu:6.1f} µs  {spec}")


if __name__ == "__main__":
    main()
