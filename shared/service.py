"""What a service gives the kit: its name, tables, handler and dashboard panel; and the shape of
the platform (which processes, on which ports) that ``services/registry.py`` fills in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import Delivery
from shared.schema import ConsumerTables

if TYPE_CHECKING:
    import faust

    from shared.dashboard.service_views import ServiceDashboard


class Handler(Protocol):
    async def __call__(
        self, conn: AsyncConnection, new: Sequence[Delivery], duplicates: Sequence[Delivery]
    ) -> None:
        """Apply a batch inside the loop's open transaction.

        ``new`` are events this service has never applied (apply their effects);
        ``duplicates`` are redeliveries the inbox absorbed (their effects must not repeat).
        """


RecentRows = Callable[[AsyncConnection, int], Awaitable[list[dict[str, Any]]]]


@dataclass(frozen=True)
class Panel:
    """A service's own part of its dashboard: ``web/`` holds ``panel.html`` (included in the
    kit's service page) and ``panel.js``; ``routes`` adds its JSON API; ``recent`` reads the
    last events persisted with the service's own columns."""

    web: Path
    routes: Callable[[faust.App, ServiceDashboard], None]
    recent: RecentRows


@dataclass(frozen=True)
class ServiceDefinition:
    name: str  # also its schema, its role and its default consumer group
    tables: ConsumerTables
    handler: Handler
    panel: Panel
    # Its own tables of history kept RETENTION_HOURS, then deleted (table, time column):
    # dead letters always are (shared/retention.py).
    retained: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Process:
    name: str
    web_port: int  # its dashboard's default port (compose.yml: ${<NAME>_WEB_PORT:-port})


@dataclass(frozen=True)
class Layout:
    """The platform's processes, as compose.yml declares them: the publisher (which also
    serves the overview) and the consuming services."""

    publisher: Process
    services: tuple[Process, ...]

    @property
    def processes(self) -> tuple[Process, ...]:
        return (self.publisher, *self.services)

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.services)

    def ports(self, own: str, own_port: int) -> dict[str, int]:
        """Every dashboard's port, seen from ``own`` serving on ``own_port``: the ports keep
        compose.yml's layout, so a deployment that moves one moves all by the same offset."""
        shift = own_port - next(p.web_port for p in self.processes if p.name == own)
        return {p.name: p.web_port + shift for p in self.processes}
