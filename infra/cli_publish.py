"""`./fanout publish`: send events acknowledged (acks=all) or fire-and-forget (acks=0)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra.settings import StackSettings
from services.publisher.generator import events
from services.publisher.producer import PublishResult, make_producer, publish

console = Console()


def default_bootstrap() -> str:
    return f"127.0.0.1:{StackSettings().kafka_port}"


def register(app: typer.Typer) -> None:
    app.command(name="publish")(publish_command)
    app.command()(bench)


def bench(
    events_: Annotated[int, typer.Option("--events", "-n", min=1000)] = 100_000,
    rate: Annotated[float, typer.Option(help="Fixed rate of the latency run (events/s).")] = 2000,
    latency_events: Annotated[int, typer.Option(min=100)] = 10_000,
    batch: Annotated[int, typer.Option(help="Services' BATCH_MAX.")] = 2000,
    peer: Annotated[
        list[str] | None, typer.Option(help="Also drain the backlog with a peer: quix.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="py-spy profile of one service while it drains.")
    ] = None,
) -> None:
    """Drain a pre-filled backlog with fanout's services and the no-framework ceiling (and
    --peer quix), then latency, memory and the database ceiling, on a private stack."""
    from infra.bench import BenchOptions, run_bench
    from infra.bench_report import report

    if any(p != "quix" for p in peer or []):
        raise typer.BadParameter("the only peer is quix")
    if profile not in (None, "analytics", "billing", "audit"):
        raise typer.BadParameter("--profile takes analytics, billing or audit")
    opts = BenchOptions(events_, rate, latency_events, batch, tuple(peer or []), profile)
    report(console, run_bench(opts))


def publish_command(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="Events to send.")] = 1000,
    rate: Annotated[float, typer.Option(help="Events per second; 0 = as fast as possible.")] = 0,
    acks: Annotated[
        str, typer.Option(help="all (idempotent, acknowledged), 1, or 0 (fire-and-forget).")
    ] = "all",
    users: Annotated[int, typer.Option(min=1, help="Distinct user_id keys.")] = 100,
    seed: Annotated[int | None, typer.Option(help="Reproducible events.")] = None,
    topic: Annotated[str, typer.Option()] = "multi-app-events",
    bootstrap: Annotated[
        str | None, typer.Option(help="Default: the `./fanout up` broker.")
    ] = None,
) -> None:
    """Publish COUNT events keyed by user_id and report how many the broker acknowledged."""
    if acks not in ("all", "1", "0"):
        raise typer.BadParameter("acks must be all, 1 or 0")
    result = asyncio.run(
        _publish(bootstrap or default_bootstrap(), topic, count, rate, acks, users, seed)
    )
    rate_done = result.sent / result.seconds if result.seconds else 0.0
    acked = "n/a (acks=0: the broker does not answer)" if acks == "0" else str(result.acknowledged)
    console.print(
        f"sent {result.sent}, acknowledged {acked}, failed {result.failed} "
        f"in {result.seconds:.2f}s ({rate_done:,.0f} events/s, acks={acks})"
    )
    if result.failed:
        raise typer.Exit(1)


async def _publish(
    bootstrap: str, topic: str, count: int, rate: float, acks: str, users: int, seed: int | None
) -> PublishResult:
    producer = make_producer(bootstrap, acks)
    await producer.start()
    try:
        with Progress(
            TextColumn("publishing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("publish", total=count)
            return await publish(
                producer,
                topic,
                events(count, users, seed),
                rate=rate,
                on_sent=lambda n: bar.advance(task, n),
                acks=acks,
            )
    finally:
        await producer.stop()
