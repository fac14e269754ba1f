"""What a service gives the consume loop: its name, tables and handler. Its dashboard panel
(shared/dashboard/panel.py) and the platform's process layout (shared/dashboard/layout.py,
filled in by ``services/registry.py``) live on the dashboard side, which depends on this."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import Delivery
from shared.inbox import Carried
from shared.schema import ConsumerTables


class Handler(Protocol):
    async def __call__(
        self, conn: AsyncConnection, new: Sequence[Delivery], absorbed: Sequence[Delivery]
    ) -> None:
        """Apply a batch inside the loop's open transaction.

        ``new`` are events this service has never applied (apply their effects);
        ``absorbed`` are redeliveries the inbox absorbed (their effects must not repeat).
        """


@dataclass(frozen=True)
class ServiceDefinition:
    name: str  # also its schema, its role and its default consumer group
    tables: ConsumerTables
    handler: Handler
    # Its own tables of history kept RETENTION_HOURS, then deleted (table, time column):
    # dead letters always are (shared/retention.py).
    retained: tuple[tuple[str, str], ...] = ()
    # Its own columns on its inbox rows (shared/inbox.py), where its table would repeat them.
    carried: Carried | None = None
