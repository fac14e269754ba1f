"""The inbox, progress and dead-letter steps of the consume loop against PostgreSQL alone (no
broker, no process), through the real ``BatchConsumer`` as each service's own role.

The inbox claims each event id once: a new id is applied; an id already there with the same
bytes is absorbed (a redelivery when its offset was persisted already, else a copy); with other
bytes it is a conflicting duplicate, dead-lettered while the first write stands. Progress counts
every offset of a partition once, as processed, copy or invalid."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import orjson
import pytest
from sqlalchemy.exc import IntegrityError

from shared.events import MAX_VALUE_BYTES
from tests.badinput import BAD_VALUES, bad
from tests.support.batches import (
    Item,
    apply,
    assert_every_offset_counted_once,
    deliveries,
    delivery,
    positions,
    progress,
    rejected,
)
from tests.support.catalog import SERVICES
from tests.support.db import Db, check_constraint
from tests.support.publishing import altered, generate

SERVICE = "analytics"  # the inbox is the same in every schema; analytics' handler is the least


def fingerprint(raw: bytes) -> bytes:
    """Independent of the inbox's code: a 16-byte BLAKE2b of the payload's bytes."""
    return hashlib.blake2b(raw, digest_size=16).digest()


def sha256(raw: bytes) -> bytes:
    return hashlib.sha256(raw).digest()


def inbox(db: Db, schema: str) -> list[tuple]:
    return db.all(
        f"SELECT event_id, fingerprint, partition, kafka_offset FROM {schema}.inbox "
        "ORDER BY partition, kafka_offset"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_new_events_are_claimed_once_with_position_and_fingerprint(
    clean_db: Db, service: str
) -> None:
    db = clean_db
    items = deliveries(generate(5, seed=71), partition=2, start=10)
    done = apply(db.url, service, items)
    assert positions(done.new) == [(2, offset) for offset in range(10, 15)]
    assert (done.absorbed, done.letters) == ([], [])
    assert inbox(db, service) == [
        (d.event.event_id, fingerprint(d.raw), 2, d.offset) for d in items
    ]
    assert progress(db, service) == {2: (14, 5, 0, 0, 0)}


CHANGED = ("progress", "delivery_count")


@pytest.mark.parametrize("service", SERVICES)
def test_a_redelivered_batch_is_absorbed_as_duplicates_not_copies(
    clean_db: Db, service: str
) -> None:
    db = clean_db
    items = deliveries(generate(6, seed=72), partition=1)
    apply(db.url, service, items)
    before = db.snapshot(service, *CHANGED)
    done = apply(db.url, service, items)
    assert done.new == [] and done.letters == []
    assert positions(done.absorbed) == positions(items)
    assert progress(db, service) == {1: (5, 6, 6, 0, 0)}
    # Absorbed duplicates leave the inbox as it was (but for audit's delivery count, which its
    # inbox row carries: tests/db/test_handler_audit.py counts it).
    assert db.snapshot(service, *CHANGED)["inbox"] == before["inbox"]


def test_the_same_event_at_another_offset_is_a_copy(clean_db: Db) -> None:
    """Whether an absorbed event is a redelivery or a copy is decided by the offset the
    partition persisted: at or below it, the offset was counted already."""
    db = clean_db
    e = list(generate(3, seed=73))
    apply(db.url, SERVICE, deliveries(e))  # partition 0, offsets 0-2
    again = [delivery(e[2], 2), delivery(e[0], 3), delivery(e[1], 0, partition=1)]
    done = apply(db.url, SERVICE, again)
    assert positions(done.absorbed) == positions(again) and done.new == []
    assert progress(db, SERVICE) == {
        0: (3, 3, 2, 1, 0),  # offset 2 read again; offset 3 holds a copy of offset 0
        1: (0, 0, 1, 1, 0),  # nothing persisted there before: a copy
    }
    assert db.inbox_count(SERVICE) == 3
    assert_every_offset_counted_once(db, SERVICE)


def test_same_id_other_bytes_is_a_conflicting_duplicate_and_the_first_write_stands(
    clean_db: Db,
) -> None:
    db = clean_db
    e = list(generate(2, seed=74))
    first = delivery(e[0], 0)
    apply(db.url, SERVICE, [first, delivery(e[1], 1)])
    counts = db.snapshot(SERVICE)["type_minute_counts"]
    changed = altered(e[0], event_type="sell", amount=Decimal("99.99"))
    # The same event, reformatted: equal as JSON, other bytes. Identity is the bytes.
    spaced = orjson.dumps(orjson.loads(first.raw), option=orjson.OPT_INDENT_2)
    done = apply(db.url, SERVICE, [delivery(changed, 2), delivery(e[0], 3, raw=spaced)])
    assert (done.new, done.absorbed) == ([], [])
    assert [(r.offset, r.reason, r.event_id) for r in done.letters] == [
        (2, "conflicting_duplicate", e[0].event_id),
        (3, "conflicting_duplicate", e[0].event_id),
    ]
    assert all(str(e[0].event_id) in r.error for r in done.letters)
    assert inbox(db, SERVICE)[0] == (e[0].event_id, fingerprint(first.raw), 0, 0)
    assert db.snapshot(SERVICE)["type_minute_counts"] == counts  # not applied
    assert db.all(
        f"SELECT kafka_offset, event_id, reason, payload FROM {SERVICE}.dead_letters ORDER BY 1"
    ) == [
        (2, e[0].event_id, "conflicting_duplicate", changed.to_json()),
        (3, e[0].event_id, "conflicting_duplicate", spaced),
    ]
    assert progress(db, SERVICE) == {0: (3, 2, 0, 0, 2)}


def test_the_same_id_twice_in_one_batch(clean_db: Db) -> None:
    """The second sighting in a batch is judged against the first: the same bytes are
    absorbed (a copy: its offset was never persisted), other bytes are a conflict."""
    db = clean_db
    e = list(generate(2, seed=75))
    other = altered(e[1], user_id="someone-else")
    items = [delivery(e[0], 0), delivery(e[0], 1), delivery(e[1], 2), delivery(other, 3)]
    done = apply(db.url, SERVICE, items)
    assert positions(done.new) == [(0, 0), (0, 2)]
    assert positions(done.absorbed) == [(0, 1)]
    assert [(r.offset, r.reason) for r in done.letters] == [(3, "conflicting_duplicate")]
    assert inbox(db, SERVICE) == [
        (e[0].event_id, fingerprint(items[0].raw), 0, 0),
        (e[1].event_id, fingerprint(items[2].raw), 0, 2),
    ]
    assert progress(db, SERVICE) == {0: (3, 2, 1, 1, 1)}


def mixed_batch() -> list[Item]:
    """Partition 0: five events, a value that is not JSON, a copy of offset 1; partition 1:
    three events and a tombstone."""
    e = list(generate(8, seed=76))
    return [
        *deliveries(e[:5]),
        rejected(b"not json", 5),
        delivery(e[1], 6),
        *deliveries(e[5:], partition=1),
        rejected(None, 3, partition=1),
    ]


def test_progress_counts_every_offset_once_and_a_redelivery_only_as_duplicates(
    clean_db: Db,
) -> None:
    db = clean_db
    items = mixed_batch()
    done = apply(db.url, SERVICE, items)
    assert positions(done.absorbed) == [(0, 6)]
    assert [(r.partition, r.offset, r.reason) for r in done.letters] == [
        (0, 5, "invalid_json"),
        (1, 3, "null_value"),
    ]
    assert progress(db, SERVICE) == {0: (6, 5, 1, 1, 1), 1: (3, 3, 0, 0, 1)}
    assert_every_offset_counted_once(db, SERVICE)
    letters = db.snapshot(SERVICE)["dead_letters"]

    again = apply(db.url, SERVICE, items)  # the whole batch read again
    assert again.new == [] and len(again.absorbed) == 9
    # The bad events are dead-lettered again (the topic gets them again, keyed by their
    # position), but recorded and counted once.
    assert len(again.letters) == 2
    assert db.snapshot(SERVICE)["dead_letters"] == letters
    assert progress(db, SERVICE) == {0: (6, 5, 7, 1, 1), 1: (3, 3, 3, 0, 1)}
    assert_every_offset_counted_once(db, SERVICE)


def test_dead_letters_keep_a_bounded_payload_its_size_and_hash(clean_db: Db) -> None:
    db = clean_db
    bad = {
        "unknown_event_type": BAD_VALUES["unknown_event_type"],
        "oversize": BAD_VALUES["oversize"],
        "null_value": None,
    }
    items = [rejected(raw, offset) for offset, raw in enumerate(bad.values())]
    apply(db.url, SERVICE, items)
    rows = db.all(
        "SELECT kafka_offset, reason, payload, payload_size, payload_sha256, event_id "
        f"FROM {SERVICE}.dead_letters ORDER BY 1"
    )
    expected: list[tuple] = []
    for offset, (reason, raw) in enumerate(bad.items()):
        if raw is None:
            expected.append((offset, reason, None, None, None, None))
        else:
            payload = raw[:MAX_VALUE_BYTES]  # whole up to the bound; all of it at its offset
            expected.append((offset, reason, payload, len(raw), sha256(raw), None))
    assert rows == expected
    assert len(BAD_VALUES["oversize"] or b"") > MAX_VALUE_BYTES  # the bound did cut it
    assert progress(db, SERVICE) == {0: (2, 0, 0, 0, 3)}


def test_a_dead_letter_the_table_refuses_is_stored_in_its_minimal_form(clean_db: Db) -> None:
    """The batch still commits: its events applied, its letters kept in the table without
    their payload, with their size, hash and the reason the full form was refused."""
    db = clean_db
    e = list(generate(2, seed=77))
    jump, nope = bad(event_type="jump"), bad(event_id="nope")
    items: list[Item] = [delivery(e[0], 0), rejected(jump, 1), rejected(nope, 2), delivery(e[1], 3)]
    refuse = "payload IS NULL OR reason <> 'unknown_event_type'"
    with check_constraint(db, f"{SERVICE}.dead_letters", refuse):
        done = apply(db.url, SERVICE, items)
    assert positions(done.new) == [(0, 0), (0, 3)]
    assert done.payloads == [jump, nope]  # the topic still gets the full letters
    rows = db.all(
        f"SELECT kafka_offset, reason, payload, payload_size, payload_sha256, error "
        f"FROM {SERVICE}.dead_letters ORDER BY 1"
    )
    assert [r[:5] for r in rows] == [
        (1, "unknown_event_type", None, len(jump), sha256(jump)),
        (2, "invalid_uuid", None, len(nope), sha256(nope)),
    ]
    assert all("[minimal form: IntegrityError" in r[5] for r in rows)
    assert progress(db, SERVICE) == {0: (3, 2, 0, 0, 2)}


def test_a_store_that_refuses_even_the_minimal_form_fails_the_batch(clean_db: Db) -> None:
    """Then the database itself is in trouble: the batch raises (its offsets never move) and
    no event of it is counted without its letter. The events before it, split off, stand."""
    db = clean_db
    e = list(generate(1, seed=78))
    first = delivery(e[0], 0)
    items: list[Item] = [first, rejected(b"not json", 1)]
    with (
        check_constraint(db, f"{SERVICE}.dead_letters", "false"),
        pytest.raises(IntegrityError),
    ):
        apply(db.url, SERVICE, items, split=True)
    assert db.count(f"{SERVICE}.dead_letters") == 0
    assert inbox(db, SERVICE) == [(e[0].event_id, fingerprint(first.raw), 0, 0)]
    assert progress(db, SERVICE) == {0: (0, 1, 0, 0, 0)}
