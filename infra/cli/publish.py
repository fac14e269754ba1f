"""`./fanout publish`: send events acknowledged (acks=all) or fire-and-forget (acks=0)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from infra.cli.options import default_bootstrap
from services.publisher.generator import events
from services.publisher.producer import PublishResult, make_producer, publish

console = Console()


def register(app: typer.Typer) -> None:
    app.command(name="publish")(publish_command)


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
