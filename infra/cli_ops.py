"""Ops commands: topics, tail, groups, reset-offsets, compose-check.

Each is the fanout twin of a Kafka shell tool (kafka-topics, kafka-console-consumer,
kafka-consumer-groups) pointed at the `./fanout up` broker unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from infra import broker_ops
from infra.broker_ops import OffsetMove, PartitionLag, ResetTarget
from infra.compose import COMPOSE
from infra.compose_v1 import docker_compose_config
from infra.settings import StackSettings
from shared.broker import BrokerError

T = TypeVar("T")

BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        envvar="KAFKA_BOOTSTRAP_SERVERS",
        show_default="the ./fanout up broker, 127.0.0.1:${FANOUT_KAFKA_PORT:-9092}",
        help="Kafka bootstrap servers (host:port[,host:port]).",
    ),
]


class DescribeByDefault(TyperGroup):
    """A group where ``CMD NAME`` is short for ``CMD describe NAME`` (``topics multi-app-events``,
    ``groups billing``); with no argument the group's callback lists everything."""

    # Any: typer vendors click privately, so its Context/Command types have no public name.
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["describe", *args]
        return super().resolve_command(ctx, args)


topics_app = typer.Typer(
    cls=DescribeByDefault,
    invoke_without_command=True,
    no_args_is_help=False,
    help="List topics; `topics TOPIC` (or `topics describe TOPIC`) shows its partitions.",
)
groups_app = typer.Typer(
    cls=DescribeByDefault,
    invoke_without_command=True,
    no_args_is_help=False,
    help="List consumer groups; `groups GROUP` shows its offsets, lag and owners.",
)


def register(app: typer.Typer) -> None:
    app.add_typer(topics_app, name="topics")
    app.command()(tail)
    app.add_typer(groups_app, name="groups")
    app.command("reset-offsets")(reset_offsets)
    app.command("compose-check")(compose_check)


# --- plumbing -------------------------------------------------------------------------------


def _console(stderr: bool = False) -> Console:
    # Built per call, not at import: the width then follows $COLUMNS of the current run.
    return Console(stderr=stderr)


def _bootstrap(ctx: typer.Context, value: str | None) -> str:
    """--bootstrap, else the parent group's --bootstrap, else the `./fanout up` broker."""
    parent = ctx.parent.params.get("bootstrap") if ctx.parent else None
    return value or parent or f"127.0.0.1:{StackSettings().kafka_port}"  # type: ignore[call-arg]


def _run(coro: Coroutine[Any, Any, T], bootstrap: str) -> T:
    """Run one broker conversation; operator mistakes and broker failures exit 1, no trace."""
    try:
        return asyncio.run(coro)
    except BrokerError as exc:
        _console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
    except KafkaError as exc:
        _console(stderr=True).print(
            f"[red]Kafka at {bootstrap}:[/] {escape(str(exc))}", highlight=False
        )
    raise typer.Exit(1)


def _offset(value: int | None) -> str:
    return "-" if value is None else str(value)


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
    server = _bootstrap(ctx, bootstrap)
    rows = _run(broker_ops.list_topics(server, include_internal=all_), server)
    table = Table(title=f"topics on {server}")
    for col in ("topic", "partitions", "replication"):
        table.add_column(col, justify="left" if col == "topic" else "right")
    for t in rows:
        table.add_row(t.name, str(t.partitions), str(t.replication))
    _console().print(table)


@topics_app.command("describe")
def describe_topic(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic name.")],
    bootstrap: BootstrapOption = None,
) -> None:
    """Per partition: leader, replicas, in-sync replicas, earliest and log-end offsets."""
    server = _bootstrap(ctx, bootstrap)
    rows = _run(broker_ops.describe_topic(server, topic), server)
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
    _console().print(table)
    _console().print(f"offsets retained: {sum(p.log_end - p.earliest for p in rows)}")


# --- tail -----------------------------------------------------------------------------------


def _text(raw: bytes | None) -> str:
    return "-" if raw is None else raw.decode("utf-8", errors="replace")


def format_record(record: ConsumerRecord[bytes, bytes]) -> str:
    """One line per event: partition, offset, key, timestamp (UTC), value."""
    when = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="milliseconds")
    return (
        f"partition={record.partition} offset={record.offset} key={_text(record.key)} "
        f"timestamp={when.replace('+00:00', 'Z')} {_text(record.value)}"
    )


def tail(
    ctx: typer.Context,
    topic: Annotated[str, typer.Argument(help="Topic to read.")],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Start at the earliest offset, not the end.")
    ] = False,
    max_events: Annotated[
        int | None, typer.Option("--max", min=1, help="Stop after this many events.")
    ] = None,
    partition: Annotated[
        int | None, typer.Option("--partition", min=0, help="Only this partition.")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, help="Stop after this many seconds without events."),
    ] = None,
    bootstrap: BootstrapOption = None,
) -> None:
    """Print a topic's events, like kafka-console-consumer.

    One line per event: partition, offset, key, timestamp (UTC), value.

    No consumer group: it reads by manual assignment and commits nothing.

    Stops after --max events, after --timeout seconds without one, or on Ctrl-C.
    """
    server = _bootstrap(ctx, bootstrap)
    shown = 0

    def show(record: ConsumerRecord[bytes, bytes]) -> None:
        nonlocal shown
        typer.echo(format_record(record))  # plain echo: event JSON is not rich markup
        shown += 1

    job = broker_ops.tail(
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
        _run(job, server)
    typer.echo(f"processed {shown} events", err=True)


# --- groups ---------------------------------------------------------------------------------


@groups_app.callback()
def groups(ctx: typer.Context, bootstrap: BootstrapOption = None) -> None:
    """List consumer groups with their state and number of members."""
    if ctx.invoked_subcommand is not None:
        return
    server = _bootstrap(ctx, bootstrap)
    rows = _run(broker_ops.list_groups(server), server)
    table = Table(title=f"consumer groups on {server}")
    for col in ("group", "state", "members"):
        table.add_column(col, justify="right" if col == "members" else "left")
    for g in rows:
        table.add_row(escape(g.group), g.state, str(len(g.members)))  # ids may hold "["
    _console().print(table)


def _lag_table(group: str, state: str, rows: list[PartitionLag]) -> Table:
    table = Table(title=escape(f"group {group} ({state})"))
    for col in ("topic", "partition", "committed", "log-end", "lag", "client id", "host"):
        table.add_column(
            col, justify="right" if col in {"partition", "committed", "log-end", "lag"} else "left"
        )
    for r in rows:
        owner = r.owner
        table.add_row(
            r.topic,
            str(r.partition),
            _offset(r.committed),
            str(r.log_end),
            _offset(r.lag),
            escape(owner.client_id) if owner else "-",
            owner.host if owner else "-",
        )
    return table


@groups_app.command("describe")
def describe_group(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Consumer group id (e.g. billing).")],
    bootstrap: BootstrapOption = None,
) -> None:
    """Per partition: committed, log-end, lag and owning member; then the total lag.

    Like kafka-consumer-groups --describe. Lag is "-" where the group never committed.
    """
    server = _bootstrap(ctx, bootstrap)
    info, rows = _run(broker_ops.group_lag(server, group), server)
    console = _console()
    console.print(_lag_table(group, info.state, rows))
    total = sum(r.lag for r in rows if r.lag is not None)
    console.print(f"members: {len(info.members)}  total lag: {total}", highlight=False)


# --- reset-offsets --------------------------------------------------------------------------


def _parse_when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        # Without a UTC offset the time is local, as for kafka-consumer-groups --to-datetime.
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 date-time: {value!r}") from exc


def _target(to_earliest: bool, to_latest: bool, to_datetime: datetime | None) -> ResetTarget:
    chosen: list[ResetTarget] = []
    if to_earliest:
        chosen.append("earliest")
    if to_latest:
        chosen.append("latest")
    if to_datetime is not None:
        chosen.append(to_datetime)
    if len(chosen) != 1:
        raise typer.BadParameter(
            "give exactly one", param_hint="--to-earliest / --to-latest / --to-datetime"
        )
    return chosen[0]


def _plan_table(group: str, topic: str, moves: list[OffsetMove]) -> Table:
    table = Table(title=escape(f"reset {group} on {topic}"))
    for col in ("partition", "current committed", "new offset"):
        table.add_column(col, justify="right")
    for m in moves:
        table.add_row(str(m.partition), _offset(m.current), str(m.new))
    return table


def reset_offsets(
    ctx: typer.Context,
    group: Annotated[str, typer.Argument(help="Consumer group id; it must have no members.")],
    topic: Annotated[str, typer.Option("--topic", help="Topic whose offsets to move.")],
    to_earliest: Annotated[bool, typer.Option("--to-earliest", help="Oldest kept event.")] = False,
    to_latest: Annotated[bool, typer.Option("--to-latest", help="Log end: skip all.")] = False,
    to_datetime: Annotated[
        datetime | None,
        typer.Option(
            "--to-datetime",
            parser=_parse_when,
            metavar="ISO8601",
            help="First event at or after this time (e.g. 2026-01-31T12:00:00Z; "
            "without a zone it is local time); the log end where there is none.",
        ),
    ] = None,
    execute: Annotated[
        bool, typer.Option("--execute", help="Apply the plan (default: dry run, print it only).")
    ] = False,
    bootstrap: BootstrapOption = None,
) -> None:
    """Move a group's committed offsets on a topic, like kafka-consumer-groups --reset-offsets.

    Dry run by default: prints the plan (partition, current committed, new offset).

    --execute commits the new offsets for the group.

    Refuses (exit 1) while the group has active members: stop its consumers first.
    """
    target = _target(to_earliest, to_latest, to_datetime)
    server = _bootstrap(ctx, bootstrap)
    console = _console()
    _run(broker_ops.ensure_group_idle(server, group), server)
    moves = _run(broker_ops.plan_reset(server, group, topic, target), server)
    console.print(_plan_table(group, topic, moves))
    if not execute:
        console.print("dry run: nothing changed (add --execute to apply)")
        return
    _run(broker_ops.apply_reset(server, group, topic, moves), server)
    console.print(escape(f"committed new offsets for group {group} on {topic}"))


# --- compose-check --------------------------------------------------------------------------


def compose_check(
    show: Annotated[
        bool, typer.Option("--print", help="Also print the resolved configuration.")
    ] = False,
) -> None:
    """Validate compose.yml with docker-compose config (no engine needed); exit 1 if invalid.

    Uses Debian's docker-compose 1.29 (installed when missing). It predates the top-level
    `name:`, so that one key is passed as the project name (-p) instead.
    """
    result = docker_compose_config(quiet=not show)
    if show:
        typer.echo(result.stdout, nl=False)
    if result.returncode != 0:
        typer.echo(result.stderr, err=True, nl=False)
        typer.echo(f"{COMPOSE.name}: INVALID", err=True)
        raise typer.Exit(1)
    typer.echo(f"{COMPOSE.name}: valid")
