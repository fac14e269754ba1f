"""audit's handler through the consume loop's database steps, against PostgreSQL alone: one row
per event with its payload exactly as received and where it came from; every delivery on record
(applied or absorbed) and counted on the event's row. Redelivery is audit's subject: a
redelivered batch changes nothing but the duplicates counters and those delivery records."""

from __future__ import annotations

from shared.events import Delivery
from tests.support.batches import TOPIC, apply, deliveries, delivery, progress
from tests.support.db import Db
from tests.support.publishing import generate

SERVICE = "audit"
# Redelivery shows in these: everything else must stay as first written.
DELIVERY_RECORDS = ("duplicates", "delivery_count", "deliveries", "redeliveries")


def events(db: Db) -> list[tuple]:
    return db.all(
        "SELECT event_id, event_type, payload, topic, partition, kafka_offset, delivery_count "
        f"FROM {SERVICE}.events ORDER BY partition, kafka_offset"
    )


def recorded(items: list[Delivery], counts: dict[int, int] | None = None) -> list[tuple]:
    """The rows of ``items`` as first received, with their delivery counts (default 1)."""
    return [
        (d.event.event_id, d.event.event_type, d.raw.decode(), TOPIC, d.partition, d.offset,
         (counts or {}).get(i, 1))
        for i, d in enumerate(items)
    ]  # fmt: skip


def deliveries_on_record(db: Db) -> list[tuple]:
    return db.all(
        f"SELECT event_id, partition, kafka_offset, applied FROM {SERVICE}.deliveries ORDER BY id"
    )


def seen(items: list[Delivery], applied: bool) -> list[tuple]:
    return [(d.event.event_id, d.partition, d.offset, applied) for d in items]


def test_each_event_is_recorded_once_as_received(clean_db: Db) -> None:
    db = clean_db
    items = deliveries(generate(25, seed=95)) + deliveries(generate(10, seed=96), partition=3)
    apply(db.url, SERVICE, items)
    assert events(db) == recorded(items)
    assert deliveries_on_record(db) == seen(items, applied=True)
    assert db.count(f"{SERVICE}.events", "first_seen = last_seen") == 35
    assert progress(db, SERVICE) == {0: (24, 25, 0, 0, 0), 3: (9, 10, 0, 0, 0)}


def test_a_redelivered_batch_changes_nothing_but_the_delivery_records(clean_db: Db) -> None:
    db = clean_db
    items = deliveries(generate(30, seed=97), partition=1)
    apply(db.url, SERVICE, items)
    before = db.snapshot(SERVICE, *DELIVERY_RECORDS)
    done = apply(db.url, SERVICE, items)
    assert (len(done.new), len(done.absorbed), len(done.letters)) == (0, 30, 0)
    assert db.snapshot(SERVICE, *DELIVERY_RECORDS) == before
    assert events(db) == recorded(items, dict.fromkeys(range(30), 2))
    assert deliveries_on_record(db) == seen(items, True) + seen(items, False)
    # Each row says when it was last delivered: in the second batch's transaction.
    assert db.count(f"{SERVICE}.events", "last_seen > first_seen") == 30
    assert progress(db, SERVICE) == {1: (29, 30, 30, 0, 0)}


def test_a_copy_is_counted_on_the_first_row_and_recorded_where_it_came(clean_db: Db) -> None:
    """The row keeps where the event first came from; the delivery records say where each
    delivery came from, the copy's other offset included."""
    db = clean_db
    first = deliveries(generate(3, seed=98))
    apply(db.url, SERVICE, first)
    again = [first[0], first[1], delivery(first[0].event, 3)]  # two redeliveries, one copy
    done = apply(db.url, SERVICE, again)
    assert (len(done.new), len(done.absorbed)) == (0, 3)
    assert events(db) == recorded(first, {0: 3, 1: 2})
    assert deliveries_on_record(db) == seen(first, True) + seen(again, False)
    assert progress(db, SERVICE) == {0: (3, 3, 3, 1, 0)}
