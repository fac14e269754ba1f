"""Poison isolation against PostgreSQL alone (no broker, no processes): the consume loop's
database steps split a failing batch in halves, so one poison event among n costs O(log n)
transactions, and every other event is applied exactly once, in order."""

from __future__ import annotations

import math

import pytest

from services.billing.handler import ANONYMOUS
from tests.support.batches import apply, buys
from tests.support.db import Db, check_constraint, counters


# One failing transaction per level of halving and its sibling that succeeds, the first
# failure, and the poison's own dead-letter transaction: 2 * levels + 2.
@pytest.mark.parametrize(
    "n, at, expected", [(64, 0, 14), (64, 37, 14), (64, 63, 14), (100, 51, 16), (2000, 1234, 24)]
)
def test_one_poison_among_n_costs_log_n_transactions(
    clean_db: Db, n: int, at: int, expected: int
) -> None:
    db = clean_db
    items = buys(n, seed=n + at)
    poison = items[at]
    with check_constraint(db, "billing.ledger", f"event_id <> '{poison.event.event_id}'"):
        done = apply(db.url, "billing", items, split=True)
    assert done.transactions == expected
    assert expected <= 2 * math.ceil(math.log2(n)) + 2
    assert [(r.offset, r.reason, r.event_id) for r in done.letters] == [
        (at, "handler_error", poison.event.event_id)
    ]
    ledger = [i for (i,) in db.all("SELECT event_id FROM billing.ledger ORDER BY seq")]
    assert ledger == [d.event.event_id for d in items if d is not poison]  # in offset order
    assert db.inbox_count("billing") == n - 1
    assert db.progress_sums("billing") == counters(n - 1, invalid=1)


def test_a_batch_without_poison_is_one_transaction(clean_db: Db) -> None:
    done = apply(clean_db.url, "billing", buys(50, seed=5), split=True)
    assert (done.transactions, done.letters) == (1, [])


def test_a_refused_prepared_upsert_is_poison_too(clean_db: Db) -> None:
    """billing's balance upsert goes as a prepared ``shared.bulk.Statement`` on the driver
    connection: the server's refusal must still reach the loop as SQLAlchemy's error, so the
    same rule isolates it (each event of the refused user dead-lettered, the rest applied)."""
    db = clean_db
    items = buys(40, seed=11)
    user = items[17].event.user_id or ANONYMOUS
    refused = [d for d in items if (d.event.user_id or ANONYMOUS) == user]
    assert 0 < len(refused) < len(items)  # some refused, some applied: both sides are checked
    with check_constraint(db, "billing.balances", f"user_id <> '{user}'"):
        done = apply(db.url, "billing", items, split=True)
    assert [(r.offset, r.reason) for r in done.letters] == [
        (d.offset, "handler_error") for d in refused
    ]
    assert all("test_refuses" in r.error for r in done.letters)
    ledger = [i for (i,) in db.all("SELECT event_id FROM billing.ledger ORDER BY seq")]
    assert ledger == [d.event.event_id for d in items if d not in refused]
    assert db.all(f"SELECT user_id FROM billing.balances WHERE user_id = '{user}'") == []
    assert db.inbox_count("billing") == len(items) - len(refused)
