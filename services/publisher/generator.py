"""Synthetic user actions, as the web app would record them."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

from shared.events import EVENT_TYPES, Event

WEIGHTS = (2, 1, 5, 4, 1)  # buy, sell, click, hover, idle_5


def events(count: int | None, users: int = 100, seed: int | None = None) -> Iterator[Event]:
    """``count`` events (None: endless) spread over ``users`` users; seeded = reproducible."""
    rng = random.Random(seed)
    n = 0
    while count is None or n < count:
        kind = rng.choices(EVENT_TYPES, WEIGHTS)[0]
        amount = Decimal(rng.randint(100, 10_000)) / 100 if kind in ("buy", "sell") else None
        yield Event(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4)
            if seed is not None
            else uuid.uuid4(),
            event_datetime=datetime.now(UTC),
            event_type=kind,  # type: ignore[arg-type]
            user_id=f"user-{rng.randrange(users):04d}",
            amount=amount,
        )
        n += 1
