"""Publishing and ground truth for pipeline tests."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from decimal import Decimal

from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from shared.events import Event
from shared.kafka_admin import committed_offsets, log_end_offsets
from tests.db import Db
from tests.helpers import wait_for


def publish_events(
    bootstrap: str, topic: str, count: int, seed: int, users: int = 50
) -> list[Event]:
    """Publish ``count`` seeded events with acks=all; assert every one was acknowledged."""
    batch = list(events(count, users=users, seed=seed))

    async def go() -> int:
        producer = make_producer(bootstrap, "all")
        await producer.start()
        try:
            return (await publish(producer, topic, batch)).acknowledged
        finally:
            await producer.stop()

    assert asyncio.run(go()) == count
    return batch


def type_totals(batch: list[Event]) -> Counter[str]:
    return Counter(e.event_type for e in batch)


def balances(batch: list[Event]) -> dict[str, Decimal]:
    """Independent of billing's code: buy debits its amount, sell credits it."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for e in batch:
        if e.event_type in ("buy", "sell"):
            assert e.user_id is not None and e.amount is not None
            out[e.user_id] += -e.amount if e.event_type == "buy" else e.amount
    return dict(out)


def wait_persisted(db: Db, schema: str, expected: int, timeout: float = 120, proc=None) -> None:
    def done() -> bool:
        if proc is not None:
            proc.check_alive()
        return db.inbox_count(schema) == expected

    wait_for(
        done,
        timeout=timeout,
        what=f"{schema} to persist {expected} events",
        interval=0.25,
        detail=lambda: f"{schema} has {db.inbox_count(schema)}",
    )


def wait_committed_to_end(
    bootstrap: str, group: str, topic: str, timeout: float = 60
) -> dict[int, int]:
    """The group's committed offsets, read back from the broker, reach the log end."""
    ends = asyncio.run(log_end_offsets(bootstrap, topic))
    wait_for(
        lambda: asyncio.run(committed_offsets(bootstrap, group, topic)) == ends,
        timeout=timeout,
        what=f"{group} to commit up to {ends}",
        detail=lambda: f"committed {asyncio.run(committed_offsets(bootstrap, group, topic))}",
    )
    return ends
