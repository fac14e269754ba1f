"""What `./fanout bench` prints: ratios measured in one run, with the absolutes beside them."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table

from infra.bench.burst import Burst
from infra.bench.run import BenchResult

LABELS = {
    "fanout": "fanout (3 services)",
    "fanout-db": "fanout, OFFSET_STORE=database",
    "quix": "Quix Streams (3 apps), library defaults",
    "quix-tuned": "Quix Streams (3 apps), tuned",
    "ceiling": "no-framework ceiling",
    "ceiling-after": "ceiling again, after fanout",
}


def report(console: Console, r: BenchResult) -> None:
    console.print(f"published {r.events:,} events (acks=all): {r.publish_events_per_s:,.0f}/s")
    drains(console, r)
    ratios(console, r)
    others(console, r)


def drains(console: Console, r: BenchResult) -> None:
    table = Table(title=f"Draining {r.events:,} events, three fresh groups per pipeline")
    table.add_column("pipeline")
    for col in ("events/s fanned out", "seconds (wall)", "stagger s", "CPU µs/event"):
        table.add_column(col, justify="right")
    breakdown = []
    for name in LABELS:
        if (d := r.drains.get(name)) is None:
            continue
        cpu = d.cpu_us_per_event
        table.add_row(
            LABELS[name],
            f"{d.events_per_s:,.0f}",
            f"{d.seconds:.1f} ({d.wall_seconds:.1f})",
            f"{d.stagger_seconds:.1f}",
            f"{sum(cpu.values()):.0f}",
        )
        breakdown.append(f"  {name}: " + ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()))
    console.print(table)
    console.print("CPU µs per fanned-out event, by process:", *breakdown, sep="\n")


def ratios(console: Console, r: BenchResult) -> None:
    console.print("ratios, same run and stack (rate; in brackets: by CPU per event, theirs/ours):")
    if r.ratio_to_quix is not None:
        console.print(
            f"  fanout/quix defaults [bold]{r.ratio_to_quix:.2f}[/bold] ({r.cpu_ratio_to_quix:.2f})"
        )
    if r.ratio_to_quix_tuned is not None:
        console.print(
            f"  fanout/quix tuned [bold]{r.ratio_to_quix_tuned:.2f}[/bold] "
            f"({r.cpu_ratio_to_quix_tuned:.2f})"
        )
    console.print(
        f"  fanout/ceiling [bold]{r.ratio_to_ceiling:.2f}[/bold] ({r.cpu_ratio_to_ceiling:.2f});"
        " ceiling: the mean of its drains before and after fanout's"
    )
    console.print(
        f"  database offsets/kafka offsets [bold]{r.ratio_database_offsets:.2f}[/bold] "
        f"({r.cpu_ratio_database_offsets:.2f}): the same services, OFFSET_STORE=database"
    )


def others(console: Console, r: BenchResult) -> None:
    parts = ", ".join(f"{k} {v:.0f}" for k, v in r.cpu_us_per_event.items())
    total = sum(r.cpu_us_per_event.values())
    console.print(
        f"fanout CPU µs per fanned-out event, publisher included: {parts} (sum {total:.0f}"
        f" on {os.cpu_count()} cores)"
    )
    latency(console, r)
    console.print(
        f"database ceiling (our writes, no Kafka): {r.db_ceiling_events_per_s:,.0f} "
        f"events/s per service in parallel; ratio {r.ratio_to_db_ceiling:.2f}"
    )
    if r.burst is not None:
        burst(console, r.burst)
    if r.retention_rows:
        console.print(
            f"retention: deleting {r.retention_rows:,} audit redeliveries took "
            f"{r.retention_seconds:.2f} s ({r.retention_rows / max(r.retention_seconds, 1e-3):,.0f}"
            " rows/s, batches of 5,000)"
        )
    if r.profile:
        console.print(f"profile (py-spy raw, collapsed stacks): {r.profile}")
        console.print(f"  summary: {r.profile.removesuffix('.txt')}.summary.txt")
        console.print("  (the sampler ran during the fanout drain: its figures are perturbed)")
    if r.profile_database:
        console.print(f"profile of the OFFSET_STORE=database drain: {r.profile_database}")


def burst(console: Console, b: Burst) -> None:
    console.print(
        f"dashboard burst ({b.gets:,} heavy GETs, {b.gets_per_s:,.0f}/s, {b.gets_refused} "
        "refused): mean batch time quiet → under the burst (ratio)"
    )
    for s, quiet in b.quiet_ms.items():
        console.print(
            f"  {s}: {quiet} ms → {b.burst_ms[s]} ms ([bold]{b.ratio[s]:.2f}[/bold]) "
            f"over {b.batches[s]} batches"
        )


def latency(console: Console, r: BenchResult) -> None:
    warm = f", after {r.warm_up_seconds:g} s unmeasured" if r.warm_up_seconds else ", cold"
    table = Table(title=f"publish→persisted (commit), ms, services caught up{warm}")
    table.add_column("events/s")
    for s in next(iter(r.latency_ms.values()), {}):
        table.add_column(f"{s} p50 / p99 (batch)", justify="right")
    for rate, per_service in r.latency_ms.items():
        cells = [f"{v['p50']} / {v['p99']} ({v['batch']:,.0f})" for v in per_service.values()]
        events = next(iter(per_service.values()))["events"]
        table.add_row(f"{float(rate):,.0f} ({events:,.0f} events)", *cells)
    console.print(table)
    for rate, cores in r.latency_cores.items():
        used = ", ".join(f"{name} {c:.2f}" for name, c in cores.items())
        total = sum(cores.values())
        console.print(
            f"  cores used at {float(rate):,.0f}/s: {used}; [bold]{total:.2f}[/bold] of "
            f"{os.cpu_count()}"
        )
    rss = ", ".join(f"{s} {mb} MB" for s, mb in r.peak_rss_mb.items())
    console.print(f"peak RSS (the backlog drain and the latency runs): {rss}")
