"""`./fanout groups` and `./fanout reset-offsets`: the fanout twins of
kafka-consumer-groups --describe / --reset-offsets (dry run unless --execute)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from infra import groups_ops
from infra.cli.options import (
    BootstrapOption,
    bootstrap_of,
    console,
    describe_by_default,
    offset_text,
    run_broker,
)
from infra.groups_ops import OffsetMove, PartitionLag, ResetTarget

groups_app = describe_by_default(
    "List consumer groups; `groups GROUP` shows its offsets, lag and owners."
)


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")
    app.command("reset-offsets")(reset_offsets)


# --- groups ---------------------------------------------------------------------------------


@groups_app.callback()
def groups(ctx: typer.Context, bootstrap: BootstrapOption = None) -> None:
    """List consumer groups with their state and number of members."""
    if ctx.invoked_subcommand is not None:
        return
    server = bootstrap_of(ctx, bootstrap)
    rows = run_broker(groups_ops.list_groups(server), server)
    table = Table(title=f"consumer groups on {server}")
    for col in ("group", "state", "members"):
        table.add_column(col, justify="right" if col == "members" else "left")
    for g in rows:
        table.add_row(escape(g.group), g.state, str(len(g.members)))  # ids may hold "["
    console().print(table)


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
            offset_text(r.committed),
            str(r.log_end),
            offset_text(r.lag),
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
    server = bootstrap_of(ctx, bootstrap)
    info, rows = run_broker(groups_ops.group_lag(server, group), server)
    out = console()
    out.print(_lag_table(group, info.state, rows))
    total = sum(r.lag for r in rows if r.lag is not None)
    out.print(f"members: {len(info.members)}  total lag: {total}", highlight=False)


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
        table.add_row(str(m.partition), offset_text(m.current), str(m.new))
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
    server = bootstrap_of(ctx, bootstrap)
    out = console()
    run_broker(groups_ops.ensure_group_idle(server, group), server)
    moves = run_broker(groups_ops.plan_reset(server, group, topic, target), server)
    out.print(_plan_table(group, topic, moves))
    if not execute:
        out.print("dry run: nothing changed (add --execute to apply)")
        return
    run_broker(groups_ops.apply_reset(server, group, topic, moves), server)
    out.print(escape(f"committed new offsets for group {group} on {topic}"))
