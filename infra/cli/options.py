"""What the CLI's command groups share: the --bootstrap option, consoles, and running one
broker conversation so that operator mistakes exit 1 with a message, not a trace."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

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


def describe_by_default(help: str) -> typer.Typer:
    """A command group whose ``CMD NAME`` means ``CMD describe NAME`` and whose bare ``CMD``
    lists everything."""
    return typer.Typer(
        cls=DescribeByDefault, invoke_without_command=True, no_args_is_help=False, help=help
    )


def console(stderr: bool = False) -> Console:
    # Built per call, not at import: the width then follows $COLUMNS of the current run.
    return Console(stderr=stderr)


def default_bootstrap() -> str:
    """The `./fanout up` broker."""
    return f"127.0.0.1:{StackSettings().kafka_port}"  # type: ignore[call-arg]


def bootstrap_of(ctx: typer.Context, value: str | None) -> str:
    """--bootstrap, else the parent group's --bootstrap, else the `./fanout up` broker."""
    parent = ctx.parent.params.get("bootstrap") if ctx.parent else None
    return value or parent or default_bootstrap()


def run_broker(coro: Coroutine[Any, Any, T], bootstrap: str) -> T:
    """Run one broker conversation; operator mistakes and broker failures exit 1, no trace."""
    try:
        return asyncio.run(coro)
    except BrokerError as exc:
        console(stderr=True).print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
    except KafkaError as exc:
        console(stderr=True).print(
            f"[red]Kafka at {bootstrap}:[/] {escape(str(exc))}", highlight=False
        )
    raise typer.Exit(1)


def offset_text(value: int | None) -> str:
    return "-" if value is None else str(value)
