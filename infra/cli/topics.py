"""`./fanout topics` and `./fanout tail`: the fanout twins of kafka-topics and
kafka-console-consumer, pointed at the `./fanout up` broker unless told otherwise."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from infra.cli.options import (
    BootstrapOption,
    bootstrap_of,
    console,
    describe_by_default,
    run_broker,
)
from infra.ops import topics as topics_ops
from infra.ops.topics import Shown
from shared.broker import AUTO_CREATE, EXPLICIT_TOPICS, broker_config
from shared.fetch import Undecodable
from shared.text import printable

topics_app = describe_by_default(
    "List topics; `topics TOPIC` (or `topics describe TOPIC`) shows its partitions."
)


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")
    app.command()(tail)


# --- topics ---------------------------------------------------------------------------------


@topics_app.callback()
def topics(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include internal topics.")] = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """List topics with partitions and replication factor (like `kafka-topics --list`)."""
    if ctx.invoked_subcommand is not None:
        return
    server = bootstrap_of(ctx, bootstrap)
    rows = run_broker(topics_ops.list_topics(server, include_internal=all_), server)
    table = Table(title=f"topics on {server}")
    for col in ("topic", "partitions", "replication"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    for t in rows:
        table.add_row(t.name, str(t.partitions), str(t.replication))
    console().print(table)
    auto = run_broker(broker_config(server, AUTO_CREATE), server)
    typer.echo(f"{AUTO_CREATE}={auto}: {EXPLICIT_TOPICS}")


@topics_app.command("describe")
def describe_topic(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic name.")],
    bootstrap: BootstrapOption = None,
) -> None:
    """Per partition: leader, replicas, in-sync replicas, earliest and log-end offsets."""
    server = bootstrap_of(ctx, bootstrap)
    rows = run_broker(topics_ops.describe_topic(server, topic), server)
    table = Table(title=f"{topic} ({len(rows)} partitions)")
    for col in ("partition", "leader", "replicas", "isr", "earliest", "log-end"):
        table.add_column(col, justify="right")
    for p in rows:
        table.add_row(
            str(p.partition),
            str(p.leader),
            ",".join(map(str, p.replicas)),
            ",".join(map(str, p.isr)),
            str(p.earliest),
            str(p.log_end),
        )
    console().print(table)
    console().print(f"offsets retained: {sum(p.log_end - p.earliest for p in rows)}")


# --- tail -----------------------------------------------------------------------------------

VALUE_CHARS = 10_000  # of one key or value: an oversize event must not flood the terminal


def _text(raw: bytes | None) -> str:
    """A key or value as one line a terminal shows literally (control characters escaped)."""
    return "-" if raw is None else printable(raw.decode("utf-8", errors="replace"), VALUE_CHARS)


def _when(timestamp_ms: int) -> str:
    try:
        when = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
    except (OverflowError, ValueError, OSError):  # a producer may stamp anything
        return str(timestamp_ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_record(record: Shown) -> str:
    """One line per event: partition, offset, key, timestamp (UTC), value; one per batch the
    client could not decode: partition, its offsets, why."""
    if isinstance(record, Undecodable):
        return (
            f"partition={record.partition} offsets={record.start}-{record.end - 1} "
            f"undecodable batch: {printable(record.error, VALUE_CHARS)}"
        )
    return (
        f"partition={record.partition} offset={record.offset} key={_text(record.key)} "
        f"timestamp={_when(record.timestamp)} {_text(record.value)}"
    )


FromBeginning = Annotated[
    bool, typer.Option("--from-beginning", help="Start at the earliest offset, not the end.")
]
MaxEvents = Annotated[int | None, typer.Option("--max", min=1, help="Stop after this many events.")]
OnePartition = Annotated[
    int | None, typer.Option("--partition", min=0, help="Only this partition.")
]
IdleTimeout = Annotated[
    float | None,
    typer.Option("--timeout", min=0.1, help="Stop after this many seconds without events."),
]


def tail(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic to read.")],
    from_beginning: FromBeginning = False,
    max_events: MaxEvents = None,
    partition: OnePartition = None,
    timeout: IdleTimeout = None,
    bootstrap: BootstrapOption = None,
) -> None:
    """Print a topic's events, like kafka-console-consumer.

    One line per event: partition, offset, key, timestamp (UTC), value.

    No consumer group: it reads by manual assignment and commits nothing.

    Stops after --max events, after --timeout seconds without one, or on Ctrl-C.
    """
    server = bootstrap_of(ctx, bootstrap)
    shown = 0

    def show(record: Shown) -> None:
        nonlocal shown
        typer.echo(format_record(record))  # plain echo: event JSON is not rich markup
        shown += not isinstance(record, Undecodable)

    job = topics_ops.tail(
        server,
        topic,
        show,
        from_beginning=from_beginning,
        partition=partition,
        max_events=max_events,
        idle_timeout=timeout,
    )
    # Ctrl-C: asyncio.run cancels the reader, whose finally has already stopped the consumer.
    with contextlib.suppress(KeyboardInterrupt):
        run_broker(job, server)
    typer.echo(f"processed {shown} events", err=True)
