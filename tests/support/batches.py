"""The middle tier: the consume loop's database steps against PostgreSQL alone (no broker, no
service process). Batches go through the real ``BatchConsumer`` — ``transaction`` (claim ids in
the inbox, apply the handler, record dead letters and progress, commit) or ``persist`` (the
same, with a failing batch split in halves) — connected as the service's own role, so its
grants are exercised too. Items are built the way the loop decodes records (``classify``)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.consumer import BatchConsumer
from shared.db import async_engine
from shared.events import Delivery, Event, Rejected, classify
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings
from shared.stats import ServiceStats
from tests.support.db import Db, role_url
from tests.support.publishing import generate

TOPIC = "middle-tier"
Item = Delivery | Rejected


def definition(service: str) -> ServiceDefinition:
    """What `python -m services.<service>.app` runs (compose.yml's command)."""
    return importlib.import_module(f"services.{service}.app").DEFINITION  # type: ignore[no-any-return]


def delivery(event: Event, offset: int, partition: int = 0, raw: bytes | None = None) -> Delivery:
    """``event`` (or ``raw``, which must decode to a valid event) as the loop decodes it."""
    item = classify(TOPIC, partition, offset, event.to_json() if raw is None else raw)
    assert isinstance(item, Delivery), item
    return item


def deliveries(events: Iterable[Event], partition: int = 0, start: int = 0) -> list[Delivery]:
    """Consecutive offsets from ``start`` on one partition."""
    return [delivery(e, start + i, partition) for i, e in enumerate(events)]


def rejected(raw: bytes | None, offset: int, partition: int = 0) -> Rejected:
    item = classify(TOPIC, partition, offset, raw)
    assert isinstance(item, Rejected), item
    return item


def buys(n: int, seed: int) -> list[Delivery]:
    """``n`` seeded buys on partition 0, offsets 0..n-1."""
    out = deliveries([e for e in generate(n * 10, seed=seed) if e.event_type == "buy"][:n])
    assert len(out) == n
    return out


def positions(items: Iterable[Item]) -> list[tuple[int, int]]:
    return [(i.partition, i.offset) for i in items]


@dataclass(frozen=True)
class Applied:
    """What the loop's database steps did with one batch."""

    new: list[Delivery]
    absorbed: list[Delivery]
    letters: list[Rejected]  # dead-lettered: recorded in the table, then sent to the topic
    payloads: list[bytes | None]  # per letter, the payload the topic is sent
    transactions: int  # transactions attempted (a poison event splits a batch)


def apply(admin_url: str, service: str, items: Sequence[Item], split: bool = False) -> Applied:
    """One batch through ``BatchConsumer.transaction`` (or ``persist`` when ``split``)."""

    async def go() -> Applied:
        url = role_url(admin_url, service)
        settings = ServiceSettings(service_name=service, database_url=url)
        stats = ServiceStats(service)
        engine = async_engine(url, pool_size=1)
        try:
            loop = BatchConsumer(settings, definition(service), engine, stats)
            outcome = await (loop.persist if split else loop.transaction)(list(items))
        finally:
            await engine.dispose()
        attempted = stats.transactions_attempted if split else 1
        letters = outcome.letters
        return Applied(
            outcome.new,
            outcome.absorbed,
            [d.rejected for d in letters],
            [d.payload for d in letters],
            int(attempted),
        )

    return asyncio.run(go())


def progress(db: Db, schema: str) -> dict[int, tuple[int, int, int, int, int]]:
    """Per partition: (persisted offset, processed, duplicates, copies, invalid)."""
    rows = db.all(
        "SELECT partition, persisted_offset, processed, duplicates, copies, invalid "
        f"FROM {schema}.progress WHERE topic = %s",
        TOPIC,
    )
    return {p: tuple(rest) for p, *rest in rows}  # type: ignore[misc]


def assert_every_offset_counted_once(db: Db, schema: str) -> None:
    """processed + copies + invalid = persisted offset + 1, on every partition."""
    for p, (persisted, processed, _, copies, invalid) in progress(db, schema).items():
        assert processed + copies + invalid == persisted + 1, f"partition {p}"
