"""`./fanout dlq SERVICE` and `./fanout redrive SERVICE`."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from infra.cli.options import default_bootstrap
from infra.ops.dlq import read_newest, redrive
from shared.settings import dlq_topic, redrive_topic
from shared.text import printable

console = Console()
Service = Annotated[str, typer.Argument(help="analytics, billing or audit")]
Topic = Annotated[str, typer.Option(help="The events topic.")]
Bootstrap = Annotated[str | None, typer.Option(help="Default: the `./fanout up` broker.")]


def register(app: typer.Typer) -> None:
    app.command()(dlq)
    app.command(name="redrive")(redrive_command)


def dlq(
    service: Service,
    topic: Topic = "multi-app-events",
    bootstrap: Bootstrap = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest N.")] = 50,
) -> None:
    """List SERVICE's dead letters: source position, reason, error and payload."""
    name = dlq_topic(topic, service)
    # Reads at most --limit letters (per partition), whatever the topic holds.
    letters, total = asyncio.run(read_newest(bootstrap or default_bootstrap(), name, limit))
    table = Table(title=f"{name}: {total} dead letters, the newest {len(letters)} shown")
    for col in ("offset", "source", "reason", "error", "payload"):
        table.add_column(col, overflow="fold")
    for d in letters:
        payload = "(null)" if d.value is None else d.value[:120].decode(errors="replace")
        cells = (
            str(d.offset),
            d.source,
            d.reason,
            d.headers.get("__connect.errors.exception.message", ""),
            payload,
        )
        # Text, not str: rich would read "[...]" in a payload as markup. Escaped: a payload's
        # escape sequences must not reach the terminal.
        table.add_row(*(Text(printable(c, 400)) for c in cells))
    console.print(table)


def redrive_command(
    service: Service, topic: Topic = "multi-app-events", bootstrap: Bootstrap = None
) -> None:
    """Re-feed SERVICE's dead letters to SERVICE only (via its redrive topic)."""
    sent = asyncio.run(
        redrive(
            bootstrap or default_bootstrap(),
            service,
            dlq_topic(topic, service),
            redrive_topic(topic, service),
        )
    )
    console.print(f"redrove {sent} dead letters to {redrive_topic(topic, service)}")
