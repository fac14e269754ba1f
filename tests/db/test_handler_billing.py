"""billing's handler through the consume loop's database steps, against PostgreSQL alone: one
ledger entry per buy (a debit) or sell (a credit), in the order applied; each user's balance and
entry count; the seed's events (no user, no amount) billed to the anonymous user at list
prices; a redelivered batch changes nothing but the duplicates counters."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from uuid import UUID

import orjson

from shared.events import Event
from tests.support.batches import apply, deliveries, delivery, progress
from tests.support.db import Db
from tests.support.publishing import generate

SERVICE = "billing"
# What billing charges when a buy or sell carries no amount (the seed's events never do).
LIST_PRICE = {"buy": Decimal("10.00"), "sell": Decimal("8.00")}
Entry = tuple[UUID, str, str, Decimal, datetime]


def entries(events: list[Event]) -> list[Entry]:
    """Independent of billing's code: the ledger ``events`` imply, in the order given."""
    out: list[Entry] = []
    for e in events:
        if e.event_type in LIST_PRICE:
            amount = e.amount if e.amount is not None else LIST_PRICE[e.event_type]
            signed = -amount if e.event_type == "buy" else amount
            out.append((e.event_id, e.user_id or "anonymous", e.event_type, signed, e.occurred_at))
    return out


def accounts(ledger: list[Entry]) -> dict[str, tuple[Decimal, int]]:
    """Per user: (balance, entries)."""
    out: dict[str, tuple[Decimal, int]] = defaultdict(lambda: (Decimal(0), 0))
    for _, user, _, amount, _ in ledger:
        balance, n = out[user]
        out[user] = (balance + amount, n + 1)
    return dict(out)


def ledger(db: Db) -> list[Entry]:
    return db.all(
        f"SELECT event_id, user_id, event_type, amount, event_time FROM {SERVICE}.ledger "
        "ORDER BY seq"
    )


def balances(db: Db) -> dict[str, tuple[Decimal, int]]:
    rows = db.all(f"SELECT user_id, balance, entries FROM {SERVICE}.balances")
    return {user: (balance, n) for user, balance, n in rows}


def test_ledger_and_balances_in_the_order_applied(clean_db: Db) -> None:
    """Two batches over two partitions, four users: every entry in application order (so
    each user's entries in their publish order), every balance and count exact."""
    db = clean_db
    events = list(generate(80, users=4, seed=91))
    first = deliveries(events[:30]) + deliveries(events[30:50], partition=1)
    second = deliveries(events[50:], start=30)
    apply(db.url, SERVICE, first)
    apply(db.url, SERVICE, second)
    applied = [d.event for d in first + second]
    assert ledger(db) == entries(applied)
    assert balances(db) == accounts(entries(applied))
    assert len(balances(db)) == 4
    assert progress(db, SERVICE) == {0: (59, 60, 0, 0, 0), 1: (19, 20, 0, 0, 0)}


def test_seed_events_bill_the_anonymous_user_at_list_prices(clean_db: Db) -> None:
    db = clean_db
    seed = [e for e in generate(40, seed=92)]
    raws = [
        orjson.dumps(
            {"event_id": str(e.event_id), "event_datetime": "2020-06-12-21-12-27",
             "event_type": e.event_type}
        )
        for e in seed
    ]  # fmt: skip
    items = [delivery(e, i, raw=raw) for i, (e, raw) in enumerate(zip(seed, raws, strict=True))]
    apply(db.url, SERVICE, items)
    decoded = [d.event for d in items]
    assert all(e.user_id is None and e.amount is None for e in decoded)
    assert ledger(db) == entries(decoded)
    buys = sum(1 for e in decoded if e.event_type == "buy")
    sells = sum(1 for e in decoded if e.event_type == "sell")
    assert balances(db) == {
        "anonymous": (sells * LIST_PRICE["sell"] - buys * LIST_PRICE["buy"], buys + sells)
    }


def test_a_redelivered_batch_changes_nothing_but_the_duplicates_counters(clean_db: Db) -> None:
    db = clean_db
    events = list(generate(50, users=5, seed=93))
    items = deliveries(events[:20], partition=2) + deliveries(events[20:], partition=4)
    apply(db.url, SERVICE, items)
    before = db.snapshot(SERVICE, "duplicates")
    done = apply(db.url, SERVICE, items)
    assert (len(done.new), len(done.absorbed), len(done.letters)) == (0, 50, 0)
    assert db.snapshot(SERVICE, "duplicates") == before
    assert ledger(db) == entries(events)
    assert progress(db, SERVICE) == {2: (19, 20, 20, 0, 0), 4: (29, 30, 30, 0, 0)}
