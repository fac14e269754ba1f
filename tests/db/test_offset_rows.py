"""OFFSET_STORE=database's statements against PostgreSQL alone, as the service's own role (the
grants of revision 0004): a claim creates the row or bumps its epoch; the compare-and-set
moves it only for the current owner at the expected offset — a zombie's is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import offset_rows as rows
from shared.db import async_engine
from shared.offset_rows import Claim
from shared.readside import read_only, read_stored, tables_of
from shared.schema import READER_ROLE
from tests.support.db import Db, role_url

T = TypeVar("T")
TABLE = tables_of("billing").offsets
GROUP, TOPIC = "billing-rows", "events"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def run(url: str, go: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = async_engine(url, pool_size=1)
        try:
            return await go(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def claim(db: Db, instance: str, seeds: dict, kafka: dict | None = None) -> dict:
    url = role_url(db.url, "billing")
    offsets = kafka if kafka is not None else dict.fromkeys(seeds)
    return run(url, lambda e: rows.claim(e, TABLE, GROUP, instance, seeds, offsets))


def move(db: Db, moves: list[tuple[TopicPartition, int]], claims: list[Claim]) -> set:
    async def go(engine: AsyncEngine) -> set[TopicPartition]:
        async with engine.begin() as conn:
            return await rows.compare_and_set(conn, TABLE, GROUP, moves, claims)

    return run(role_url(db.url, "billing"), go)


def stored(db: Db) -> dict[int, tuple[int, int, str]]:
    found = db.all(
        "SELECT partition, next_offset, owner_epoch, owner_instance FROM billing.offsets "
        "WHERE group_id = %s",
        GROUP,
    )
    return {p: (n, e, i) for p, n, e, i in found}


def test_a_claim_creates_the_row_then_bumps_its_epoch(clean_db: Db) -> None:
    db = clean_db
    assert claim(db, "a", {P0: 5, P1: 0}) == {P0: Claim(1, 5), P1: Claim(1, 0)}
    assert stored(db) == {0: (5, 1, "a"), 1: (0, 1, "a")}
    # Claimed again (another instance): the seed is ignored, the row's offset kept.
    assert claim(db, "b", {P0: 0}) == {P0: Claim(2, 5)}
    # Kafka's offset ahead of the row (a period in kafka mode) wins; behind it, it does not.
    assert claim(db, "c", {P0: 0, P1: 0}, {P0: 9, P1: None}) == {P0: Claim(3, 9), P1: Claim(2, 0)}
    assert claim(db, "d", {P0: 0}, {P0: 4}) == {P0: Claim(4, 9)}
    assert stored(db) == {0: (9, 4, "d"), 1: (0, 2, "c")}


def test_the_compare_and_set_moves_only_the_owners_row_at_the_expected_offset(
    clean_db: Db,
) -> None:
    db = clean_db
    zombie = claim(db, "zombie", {P0: 0, P1: 0})
    assert move(db, [(P0, 10), (P1, 7)], [zombie[P0], zombie[P1]]) == {P0, P1}
    assert stored(db) == {0: (10, 1, "zombie"), 1: (7, 1, "zombie")}
    owner = claim(db, "owner", {P0: 0})  # P0 moves to another instance: epoch 2
    # The zombie's next batch on both partitions: P0 is refused (old epoch), P1 still matches.
    assert move(db, [(P0, 20), (P1, 9)], [Claim(1, 10), Claim(1, 7)]) == {P1}
    assert move(db, [(P0, 20)], [Claim(2, 11)]) == set()  # the right epoch, a wrong offset
    assert move(db, [(P0, 20)], [owner[P0]]) == {P0}
    assert stored(db) == {0: (20, 2, "owner"), 1: (9, 1, "zombie")}


def test_the_reader_role_reads_the_rows(clean_db: Db) -> None:
    db = clean_db
    claim(db, "a", {P0: 3, P1: 4})

    async def go(engine: AsyncEngine) -> dict[int, int]:
        async with read_only(engine) as conn:
            return await read_stored(conn, "billing", GROUP, TOPIC)

    assert run(role_url(db.url, READER_ROLE), go) == {0: 3, 1: 4}
