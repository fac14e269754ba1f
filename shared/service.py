"""What a service gives the shared consume loop: its name, its tables and a small handler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from shared.events import Delivery
from shared.schema import ConsumerTables


class Handler(Protocol):
    async def __call__(
        self, conn: AsyncConnection, new: Sequence[Delivery], duplicates: Sequence[Delivery]
    ) -> None:
        """Apply a batch inside the loop's open transaction.

        ``new`` are events this service has never applied (apply their effects);
        ``duplicates`` are redeliveries the inbox absorbed (their effects must not repeat).
        """


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    tables: ConsumerTables
    handler: Handler
