"""`./fanout groups` and `./fanout reset-offsets`: the fanout twins of
kafka-consumer-groups --describe / --reset-offsets (dry run unless --execute). A group with
offsets rows in a service's schema (OFFSET_STORE=database) has them moved too."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from infra.cli.options import (
    BootstrapOption,
    bootstrap_of,
    console,
    describe_by_default,
    offset_text,
    run_broker,
)
from infra.ops import groups as groups_ops
from infra.ops import groups_db
from infra.ops.groups import OffsetMove, PartitionLag, ResetTarget
from infra.paths import state_root
from infra.postgres.server import PostgresServer
from infra.settings import StackSettings

DB_TIMEOUT_S = 10
T = TypeVar("T")

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


def _plan_table(
    group: str, topic: str, moves: list[OffsetMove], rows: dict[str, dict[int, int]]
) -> Table:
    table = Table(title=escape(f"reset {group} on {topic}"))
    for col in (
        "partition",
        "current committed",
        *(f"{s}.offsets row" for s in rows),
        "new offset",
    ):
        table.add_column(col, justify="right")
    for m in moves:
        stored = [offset_text(r.get(m.partition)) for r in rows.values()]
        table.add_row(str(m.partition), offset_text(m.current), *stored, str(m.new))
    return table


def _up_database_url() -> str:
    """$DATABASE_URL, else the `./fanout up` cluster's admin URL (as ``Stack("up")`` has it,
    without building a stack: that would mark this process as one of its children)."""
    s = StackSettings()
    return s.database_url or PostgresServer(state_root() / "up" / "postgres", s.pg_port).url


def run_db(coro: Coroutine[Any, Any, T], strict: bool = True) -> T | None:
    """One conversation with the services' database; failing it exits 1, no trace (or, not
    ``strict``, warns and returns None)."""

    async def bounded() -> T:
        async with asyncio.timeout(DB_TIMEOUT_S):
            return await coro

    try:
        return asyncio.run(bounded())
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        why = escape(str(getattr(exc, "orig", None) or exc or "timed out"))
        if not strict:
            console(stderr=True).print(
                f"[yellow]offsets rows not checked[/] (database: {why}); a group running with "
                "OFFSET_STORE=database keeps its offsets there: give --database-url",
                highlight=False,
            )
            return None
        console(stderr=True).print(f"[red]database:[/] {why}", highlight=False)
    raise typer.Exit(1)


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
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="A role that may write the services' offsets tables (OFFSET_STORE=database).",
            show_default="$DATABASE_URL, else the ./fanout up database",
        ),
    ] = None,
) -> None:
    """Move a group's committed offsets on a topic, like kafka-consumer-groups --reset-offsets.

    Dry run by default: prints the plan (partition, current committed, new offset).

    --execute commits the new offsets for the group; where a service's schema holds offsets
    rows of the group (OFFSET_STORE=database: the authoritative ones), they move too.

    Refuses (exit 1) while the group has active members: stop its consumers first.
    """
    target = _target(to_earliest, to_latest, to_datetime)
    server = bootstrap_of(ctx, bootstrap)
    url = database_url or _up_database_url()
    out = console()
    run_broker(groups_ops.ensure_group_idle(server, group), server)
    moves = run_broker(groups_ops.plan_reset(server, group, topic, target), server)
    # An explicit --database-url must answer; the default one (./fanout up's) may be down.
    rows = run_db(groups_db.stored_rows(url, group, topic), strict=database_url is not None) or {}
    out.print(_plan_table(group, topic, moves, rows))
    if not execute:
        out.print("dry run: nothing changed (add --execute to apply)")
        return
    run_broker(groups_ops.apply_reset(server, group, topic, moves), server)
    out.print(escape(f"committed new offsets for group {group} on {topic}"))
    if rows:
        new = {m.partition: m.new for m in moves}
        moved = run_db(groups_db.move_rows(url, group, topic, new)) or {}
        where = ", ".join(f"{s}.offsets" for s in moved)
        out.print(escape(f"moved the database offsets of {group} in {where}"))
