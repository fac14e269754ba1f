"""analytics' handler through the consume loop's database steps, against PostgreSQL alone:
counts per minute and event type, exactly; what the inbox absorbs or dead-letters is never
counted; a redelivered batch changes nothing but the duplicates counters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from shared.events import Event
from tests.support.batches import Item, apply, deliveries, delivery, progress, rejected
from tests.support.db import Db
from tests.support.publishing import altered, generate

SERVICE = "analytics"
START = datetime(2020, 6, 12, 21, 12, tzinfo=UTC)
Key = tuple[datetime, str]


def timed(n: int, seed: int) -> tuple[list[Event], Counter[Key]]:
    """``n`` events at known times anywhere inside four minutes, and their counts per
    (minute, type), known by construction."""
    rng = random.Random(seed)
    events, truth = [], Counter[Key]()
    for e in generate(n, seed=seed):
        minute = START + timedelta(minutes=rng.randrange(4))
        offset = timedelta(seconds=rng.randrange(60), microseconds=rng.randrange(1_000_000))
        events.append(altered(e, event_datetime=minute + offset))
        truth[(minute, e.event_type)] += 1
    return events, truth


def counts(db: Db) -> Counter[Key]:
    rows = db.all(f"SELECT minute, event_type, count FROM {SERVICE}.type_minute_counts")
    return Counter({(minute, kind): n for minute, kind, n in rows})


def test_counts_per_minute_and_type_add_up_across_batches(clean_db: Db) -> None:
    db = clean_db
    first, first_truth = timed(30, seed=81)
    second, second_truth = timed(20, seed=82)
    apply(db.url, SERVICE, deliveries(first))
    assert counts(db) == first_truth
    apply(db.url, SERVICE, deliveries(second, start=30))
    assert counts(db) == first_truth + second_truth
    assert sum(counts(db).values()) == 50
    assert progress(db, SERVICE) == {0: (49, 50, 0, 0, 0)}


def test_absorbed_and_dead_lettered_events_are_not_counted(clean_db: Db) -> None:
    db = clean_db
    events, truth = timed(10, seed=83)
    apply(db.url, SERVICE, deliveries(events))
    relabelled = altered(events[0], event_type="idle_5")  # same id: a conflict
    items: list[Item] = [
        delivery(events[1], 10),  # a copy
        delivery(relabelled, 11),
        rejected(b'{"event_type": "buy"}', 12),
    ]
    done = apply(db.url, SERVICE, items)
    assert (len(done.new), len(done.absorbed), len(done.letters)) == (0, 1, 2)
    assert counts(db) == truth
    assert progress(db, SERVICE) == {0: (12, 10, 1, 1, 2)}


def test_a_redelivered_batch_changes_nothing_but_the_duplicates_counters(clean_db: Db) -> None:
    db = clean_db
    events, truth = timed(40, seed=84)
    items = deliveries(events[:25]) + deliveries(events[25:], partition=1)
    apply(db.url, SERVICE, items)
    before = db.snapshot(SERVICE, "duplicates")
    done = apply(db.url, SERVICE, items)
    assert (len(done.new), len(done.absorbed), len(done.letters)) == (0, 40, 0)
    assert db.snapshot(SERVICE, "duplicates") == before
    assert counts(db) == truth
    assert progress(db, SERVICE) == {0: (24, 25, 25, 0, 0), 1: (14, 15, 15, 0, 0)}
