"""``./fanout reconcile``: what the broker says against what each service's schema says.

Per service and partition: below the group's committed offset (read back from the broker),
what became of each offset (applied, absorbed as a copy of an earlier event, dead-lettered, or
a transaction marker / aborted record), each exactly once; above it, what is in flight (lag);
the window persisted in the database but not yet committed; the inbox against what was
applied (from the topic and from redrives). Exit status: 0 reconciled (lag is no gap), 1 a
gap, 2 the broker or database cannot be read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from infra.cli.options import BootstrapOption, default_bootstrap
from infra.local.stack import Stack
from infra.settings import StackSettings
from services.registry import SERVICES
from shared import readside
from shared import reconcile as recon
from shared.reconcile import ServiceRecon

EXIT_GAP = 1
EXIT_UNREADABLE = 2
POLL_S = 1.0


def register(app: typer.Typer) -> None:
    app.command()(reconcile)


def _console() -> Console:
    return Console(width=200)  # wide enough for the per-partition table in a pipe or CI log


def parse_groups(values: list[str] | None, services: list[str] | None = None) -> dict[str, str]:
    unknown = sorted(set(services or ()) - set(SERVICES))
    if unknown:
        raise typer.BadParameter(f"no service {', '.join(unknown)}", param_hint="SERVICE")
    groups = {s: s for s in SERVICES if not services or s in services}
    return {**groups, **parse_pairs(values, "--group", tuple(groups))}


def parse_pairs(
    values: list[str] | None, option: str, services: tuple[str, ...] = SERVICES
) -> dict[str, str]:
    """``SERVICE=VALUE`` options (repeatable) as service → value."""
    pairs = {}
    for value in values or []:
        service, sep, given = value.partition("=")
        if not sep or service not in services or not given:
            raise typer.BadParameter(
                f"{value!r}: expected SERVICE=VALUE with SERVICE one of {', '.join(services)}",
                param_hint=option,
            )
        pairs[service] = given
    return pairs


async def snapshot(
    bootstrap: str, database_url: str | Mapping[str, str], topic: str, groups: dict[str, str]
) -> list[ServiceRecon]:
    """One reading: committed offsets, then the database(s), then log ends (``read_around``:
    no reading contradicts itself on a live stream); raises RuntimeError when either side
    cannot be read. ``database_url``: one for all, or per service (a database per service)."""
    urls = (
        dict.fromkeys(groups, database_url)
        if isinstance(database_url, str)
        else {s: database_url[s] for s in groups}
    )
    engines = readside.engines_for(urls, pool_size=1)
    try:
        facts, states = await recon.read_around(
            bootstrap,
            topic,
            groups.values(),
            lambda: readside.read_states_where(engines, groups, topic),
        )
    except (SQLAlchemyError, OSError) as exc:
        raise RuntimeError(f"database: {getattr(exc, 'orig', None) or exc}") from exc
    finally:
        await readside.dispose(engines)
    if not facts.reachable:
        raise RuntimeError(f"Kafka at {bootstrap}: {facts.error}")
    return [recon.reconcile(s, g, facts, states[s]) for s, g in groups.items()]


def settled(recons: list[ServiceRecon], target: dict[int, int] | None) -> bool:
    """No gap, and every group committed what was published when the call began."""
    if target is None or not all(r.reconciled for r in recons):
        return False
    return all(
        (p.committed or 0) >= target.get(p.partition, 0) for r in recons for p in r.partitions
    )


async def poll_until_reconciled(
    bootstrap: str,
    database_url: str | Mapping[str, str],
    topic: str,
    groups: dict[str, str],
    wait: float,
) -> tuple[list[ServiceRecon] | None, str | None]:
    """Read until every group has no gap and has committed everything published before the
    call (a live stream never reaches its log end: that would never end), or until ``wait``
    seconds pass; the last reading wins."""
    deadline = time.monotonic() + wait
    target: dict[int, int] | None = None
    while True:
        try:
            recons, error = await snapshot(bootstrap, database_url, topic, groups), None
        except RuntimeError as exc:
            recons, error = None, str(exc)
        if recons and target is None:
            target = {p.partition: p.log_end for p in recons[0].partitions}
        if (recons and settled(recons, target)) or time.monotonic() >= deadline:
            return recons, error
        await asyncio.sleep(POLL_S)  # between readings, bounded by the deadline above


def services_table(recons: list[ServiceRecon], topic: str) -> Table:
    table = Table(title=f"reconciliation of {topic}")
    for col in (
        "service",
        "group",
        "published",
        "applied",
        "copies",
        "invalid",
        "skipped",
        "accounted",
        "persisted",
        "redriven",
        "committed",
        "in flight (lag)",
        "duplicates absorbed",
        "persisted, not committed",
        "status",
    ):
        table.add_column(col, justify="left" if col in ("service", "group", "status") else "right")
    for r in recons:
        status = _status(r)
        table.add_row(
            r.service,
            r.group,
            str(r.published),
            str(r.processed),
            str(r.copies),
            str(r.invalid),
            str(r.skipped),
            str(r.accounted),
            str(r.persisted),
            str(r.redriven),
            str(r.committed),
            str(r.lag),
            str(r.duplicates),
            str(r.window),
            status,
        )
    return table


def _status(r: ServiceRecon) -> str:
    if not r.reconciled:
        return "[red]gap[/]"
    return "[yellow]catching up[/]" if r.lag else "[green]reconciled[/]"


def partitions_table(recons: list[ServiceRecon]) -> Table:
    table = Table(title="per partition: committed / lag / persisted but not committed")
    table.add_column("partition", justify="right")
    table.add_column("log end", justify="right")
    for r in recons:
        for col in ("committed", "lag", "not committed"):
            table.add_column(f"{r.service}\n{col}", justify="right")
    for i, first in enumerate(recons[0].partitions if recons else []):
        cells = [str(first.partition), str(first.log_end)]
        for r in recons:
            p = r.partitions[i]
            cells += ["-" if p.committed is None else str(p.committed), str(p.lag), str(p.window)]
        table.add_row(*cells)
    return table


Services = Annotated[
    list[str] | None, typer.Argument(help="Services to reconcile.", show_default="all three")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="A role that can read the services' schemas.",
        show_default="$READER_DATABASE_URL, else the ./fanout up database as fanout_reader",
    ),
]
ServiceUrls = Annotated[
    list[str] | None,
    typer.Option(
        "--service-database-url",
        help="SERVICE=URL for a service in a database of its own (repeatable); the others are"
        " read at --database-url.",
    ),
]
Topic = Annotated[
    str | None, typer.Option("--topic", show_default="multi-app-events", help="The events topic.")
]
Groups = Annotated[
    list[str] | None,
    typer.Option(
        "--group",
        help="SERVICE=GROUP when a service's consumer group is not its name (repeatable).",
    ),
]
Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        min=0,
        help="Poll until everything published before the call is committed, at most this long.",
    ),
]


def reconcile(
    services: Services = None,
    bootstrap: BootstrapOption = None,
    database_url: DatabaseUrl = None,
    topic: Topic = None,
    group: Groups = None,
    wait: Wait = 0,
    service_database_url: ServiceUrls = None,
) -> None:
    """Below each group's committed offset: applied + copies + invalid + skipped, per service
    and partition; above it: in flight.

    Exit 0 when nothing is missing or doubled below committed (whatever the lag), and inbox
    rows = applied + redriven; 1 on a gap (named by partition and count); 2 when the broker
    or the database cannot be read.
    """
    settings = StackSettings()
    url = database_url or Stack(settings, "up").reader_url
    name = topic or settings.topic
    groups = parse_groups(group, services)
    server = bootstrap or default_bootstrap()
    urls = {s: url for s in groups} | parse_pairs(service_database_url, "--service-database-url")
    recons, error = asyncio.run(poll_until_reconciled(server, urls, name, groups, wait))
    if recons is None:
        _console().print(f"[red]cannot reconcile:[/] {error}", highlight=False)
        raise typer.Exit(EXIT_UNREADABLE)
    show(recons, name, wait)


def show(recons: list[ServiceRecon], topic: str, wait: float) -> None:
    """The tables, then each gap; exits EXIT_GAP when there is one. Lag is not a gap."""
    console = _console()
    console.print(services_table(recons, topic))
    console.print(partitions_table(recons))
    gaps = [r for r in recons if not r.reconciled]
    for r in gaps:
        for gap in r.gaps:  # one a line: a pipe or a log never wraps one in two
            console.print(f"[red]gap[/] in {r.service}: {gap}", highlight=False, soft_wrap=True)
    if gaps:
        console.print(f"not reconciled{f' after {wait:g} s' if wait else ''}", highlight=False)
        raise typer.Exit(EXIT_GAP)
    flight = ", ".join(f"{r.service} {r.lag}" for r in recons if r.lag)
    console.print(
        "[green]reconciled:[/] every offset below each group's committed one is applied, "
        "absorbed as a copy, dead-lettered or a transaction marker, once, in every service"
        + (f"; in flight (published, not yet committed): {flight}" if flight else ""),
        highlight=False,
    )
