"""No input, however hostile, stalls a partition or breaks the read side.

Hostile values sit between valid events on one partition. Every group must commit past them
(offsets read back from the broker), every valid event is persisted exactly once, each bad one
is dead-lettered once with its reason (bounded and escaped), every read API of every service
answers 200 with no error, and `./fanout reconcile` exits 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import zlib
from collections import Counter

import orjson
from aiokafka import AIOKafkaProducer

from infra.local.stack import Stack
from infra.ops.dlq import read_dead_letters
from infra.paths import ROOT
from shared.events import MAX_VALUE_BYTES
from shared.settings import dlq_topic
from tests.badinput import BAD_VALUES, HOSTILE
from tests.support.catalog import SERVICES
from tests.support.db import Db, counters
from tests.support.kafka import new_topic, produce
from tests.support.processes import groups_of, running_services
from tests.support.publishing import generate
from tests.support.reconcile import assert_reconciles, wait_caught_up
from tests.support.web import get_json, read_apis

# A few MB of text: a few KB on the wire once compressed, so the broker takes it.
COMPRESSIBLE = b'{"event_id": "' + b"a" * 3_000_000 + b'"}'


async def produce_compressed(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, compression_type="gzip", max_request_size=8_000_000
    )
    await producer.start()
    try:
        await (await producer.send(topic, value, key=b"k"))
    finally:
        await producer.stop()


def publish_hostile_stream(bootstrap: str, topic: str) -> tuple[Counter[str], int]:
    """40 valid events with every bad value of the corpus between them, a conflicting
    duplicate, a copy and a compressed oversize value; returns the reasons expected and how
    many records were published."""
    good = [e.to_json() for e in generate(40, seed=21)]
    first = orjson.loads(good[5])
    conflicting = orjson.dumps({**first, "amount": "99.99", "event_type": "buy"})
    bad = [*BAD_VALUES.values(), *(v for _, v in HOSTILE.values()), conflicting]
    values: list[bytes | None] = list(good)
    for i, value in enumerate(bad):
        values.insert(7 + 2 * i, value)  # after good[5], interleaved with the rest
    values.append(good[3])  # the same event published again, byte for byte: a copy
    assert asyncio.run(produce(bootstrap, topic, values[:20], key=b"k")) == 20
    asyncio.run(produce_compressed(bootstrap, topic, COMPRESSIBLE))
    assert asyncio.run(produce(bootstrap, topic, values[20:], key=b"k")) == len(values) - 20
    expected = Counter(
        [*BAD_VALUES, *(r for r, _ in HOSTILE.values()), "conflicting_duplicate", "oversize"]
    )
    return expected, len(values) + 1


def test_hostile_input_never_stalls_a_partition_or_the_read_side(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "hostile", 1)  # one partition: bad events sit between good
    expected, published = publish_hostile_stream(bootstrap, topic)

    with running_services(stack, topic) as procs:
        wait_caught_up(db, bootstrap, topic, procs, 40)
        for name, p in procs.items():
            read_apis(name, p.port)
        assert_reconciles(stack.reader_url, bootstrap, topic, groups_of(procs))

    listing = run_cli("dlq", "audit", "--topic", topic, "--bootstrap", bootstrap, "--limit", "100")
    assert listing.returncode == 0, listing.stderr
    shown = [line for line in listing.stdout.splitlines() if "not json" in line]
    assert len(shown) == 1 and "\\x1b[2J\\x1b[31m[/x][bold]\\x07 not json" in shown[0], shown
    assert "\x1b" not in listing.stdout and "\x07" not in listing.stdout
    for name in SERVICES:
        sums = db.progress_sums(name)
        assert sums == counters(40, duplicates=1, copies=1, invalid=sum(expected.values()))
        assert sums["processed"] + sums["copies"] + sums["invalid"] == published
        check_dead_letters(db, bootstrap, topic, name, expected)


def check_dead_letters(db: Db, bootstrap: str, topic: str, name: str, expected: Counter) -> None:
    """Each bad value dead-lettered once with its reason, escaped and bounded, in the table
    and on the topic; the oversize ones cut to the bound, with their whole size and hash."""
    rows = db.all(f"SELECT reason, error, length(payload), payload_size FROM {name}.dead_letters")
    assert Counter(r[0] for r in rows) == expected
    assert all("\x00" not in error and len(error) < 1100 for _, error, _, _ in rows)
    oversize = {len(BAD_VALUES["oversize"] or b""), len(COMPRESSIBLE)}
    assert {size for _, _, length, size in rows if length != size} == oversize
    assert max(length or 0 for _, _, length, _ in rows) == MAX_VALUE_BYTES
    letters = asyncio.run(read_dead_letters(bootstrap, dlq_topic(topic, name)))
    assert Counter(d.reason for d in letters) == expected
    truncated = [d for d in letters if d.headers.get("fanout.payload.truncated")]
    assert {int(d.headers["fanout.payload.size"]) for d in truncated} == oversize
    [big] = [d for d in truncated if d.value and d.value.startswith(COMPRESSIBLE[:20])]
    assert big.headers["fanout.payload.size"] == str(len(COMPRESSIBLE))
    assert big.value is not None and len(big.value) == MAX_VALUE_BYTES
    assert big.headers["fanout.payload.sha256"] == hashlib.sha256(COMPRESSIBLE).hexdigest()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "infra.cli", *args]
    env = {**os.environ, "COLUMNS": "400"}
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)


def test_compressed_value_is_really_small_on_the_wire() -> None:
    """The premise of the oversize case: the broker's 1 MiB limit applies to the compressed
    batch, so a value 3 MB long gets through."""
    assert len(zlib.compress(COMPRESSIBLE)) < 20_000 < 1_000_000 < len(COMPRESSIBLE)


YEAR_10000 = "9999-12-31T23:59:59-14:00"  # PostgreSQL stores it; psycopg cannot read it back


def test_the_read_side_answers_whatever_the_database_holds(stack: Stack, clean_db: Db) -> None:
    """Rows written before the contract refused such times (or by hand) must not break a
    dashboard or reconcile: the unreadable value shows as unknown, the rest as usual."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "read-back", 1)
    good = list(generate(10, seed=22))
    assert asyncio.run(produce(bootstrap, topic, [e.to_json() for e in good])) == 10
    marked = str(good[0].event_id)
    with running_services(stack, topic) as procs:
        wait_caught_up(db, bootstrap, topic, procs, 10)
        for name in SERVICES:
            db.execute(f"UPDATE {name}.progress SET last_event_time = %s", YEAR_10000)
            db.execute(
                f"UPDATE {name}.inbox SET event_time = %s WHERE event_id = %s", YEAR_10000, marked
            )
        db.execute("UPDATE billing.ledger SET event_time = %s", YEAR_10000)
        for minute in (YEAR_10000, "2999-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00"):
            db.execute("INSERT INTO analytics.type_minute_counts VALUES (%s, 'buy', 1)", minute)
        apis = {name: read_apis(name, p.port) for name, p in procs.items()}
        event = get_json(procs["audit"].port, f"/api/events/{marked}")
        assert_reconciles(stack.reader_url, bootstrap, topic, groups_of(procs))

    assert event["event_time"] is None and event["event_id"] == marked
    for name in SERVICES:
        recent = apis[name]["/api/recent?limit=200"]["rows"]
        assert {r["event_id"] for r in recent if r["event_time"] is None} == {marked}
        assert apis[name]["/api/summary"]["counts"]["processed"] == 10
    minutes = apis["analytics"]["/api/minutes?minutes=1440"]["minutes"]
    # Only the good events' minutes: neither the unreadable nor the far-future rows show.
    assert minutes == sorted({e.occurred_at.strftime("%Y-%m-%dT%H:%M:00Z") for e in good})
