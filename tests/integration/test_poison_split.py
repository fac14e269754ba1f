"""Poison isolation against PostgreSQL alone (no broker, no processes): the consume loop's
database steps split a failing batch in halves, so one poison event among n costs O(log n)
transactions, and every other event is applied exactly once, in order."""

from __future__ import annotations

import asyncio
import math

import pytest

from services.billing.app import DEFINITION as BILLING
from services.publisher.generator import events as generate
from shared.consumer import BatchConsumer
from shared.db import async_engine
from shared.events import Delivery, Rejected
from shared.settings import ServiceSettings
from shared.stats import ServiceStats
from tests.db import Db
from tests.integration.test_dead_letters import check_constraint

TOPIC = "split-test"


def batch(n: int, seed: int) -> list[Delivery]:
    """``n`` buys on one partition, offsets 0..n-1."""
    out = []
    for e in generate(n * 10, seed=seed):
        if e.event_type == "buy" and len(out) < n:
            out.append(Delivery(e, TOPIC, 0, len(out), e.to_json()))
    assert len(out) == n
    return out


async def persist(url: str, items: list[Delivery | Rejected]) -> tuple[int, list[Rejected]]:
    settings = ServiceSettings(service_name="billing", database_url=url)
    stats = ServiceStats("billing")
    engine = async_engine(url)
    try:
        outcome = await BatchConsumer(settings, BILLING, engine, stats).persist(items)
    finally:
        await engine.dispose()
    transactions = stats.transactions.labels("billing")._value.get()
    return int(transactions), [d.rejected for d in outcome.letters]


# One failing transaction per level of halving and its sibling that succeeds, the first
# failure, and the poison's own dead-letter transaction: 2 * levels + 2.
@pytest.mark.parametrize(
    "n, at, expected", [(64, 0, 14), (64, 37, 14), (64, 63, 14), (100, 51, 16), (2000, 1234, 24)]
)
def test_one_poison_among_n_costs_log_n_transactions(
    clean_db: Db, n: int, at: int, expected: int
) -> None:
    db = clean_db
    items = batch(n, seed=n + at)
    poison = items[at]
    with check_constraint(db, "billing.ledger", f"event_id <> '{poison.event.event_id}'"):
        transactions, letters = asyncio.run(persist(db.url, list(items)))
    assert transactions == expected
    assert expected <= 2 * math.ceil(math.log2(n)) + 2
    assert [(r.offset, r.reason, r.event_id) for r in letters] == [
        (at, "handler_error", poison.event.event_id)
    ]
    ledger = [i for (i,) in db.all("SELECT event_id FROM billing.ledger ORDER BY seq")]
    assert ledger == [d.event.event_id for d in items if d is not poison]  # in offset order
    assert db.inbox_count("billing") == n - 1
    assert db.progress_sums("billing") == {
        "processed": n - 1, "duplicates": 0, "copies": 0, "invalid": 1,
    }  # fmt: skip


def test_a_batch_without_poison_is_one_transaction(clean_db: Db) -> None:
    transactions, letters = asyncio.run(persist(clean_db.url, list(batch(50, seed=5))))
    assert (transactions, letters) == (1, [])
