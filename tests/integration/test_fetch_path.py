"""Every record a producer can write, through the Kafka client's fetch (tests/badinput.py FETCH).

Between valid events on four partitions: each codec, header names that are not UTF-8, a 500 KB
header, 1,000 headers, a committed and an aborted transaction, a gzip bomb. Every group must
commit past every partition, every valid event is persisted exactly once, each undecodable
batch is dead-lettered once in minimal form, the aborted event appears nowhere, the read APIs
answer, `tail` and `dlq` print every partition without a traceback or a raw control character,
and reconcile exits 0 with the transaction markers accounted for.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from infra.local.stack import Stack
from shared.events import Event
from tests.badinput import FETCH
from tests.integration.test_hostile_input import run_cli
from tests.support.catalog import SERVICES
from tests.support.db import Db, counters
from tests.support.kafka import new_topic, published
from tests.support.processes import groups_of, running_services
from tests.support.producers import WRITERS, plain
from tests.support.publishing import generate
from tests.support.reconcile import assert_reconciles, wait_caught_up
from tests.support.web import read_apis

PARTITIONS = 4
PLAIN_PER_PARTITION = 4  # two before the odd records, two after


async def write_stream(bootstrap: str, topic: str) -> dict[str, Event]:
    """Plain events on every partition, each FETCH kind (carrying a valid event) on partition
    ``i % PARTITIONS``, plain events again; returns the event each kind carried."""
    events = iter(generate(PARTITIONS * PLAIN_PER_PARTITION + len(FETCH), seed=31))
    for _ in range(PLAIN_PER_PARTITION // 2):
        for p in range(PARTITIONS):
            await plain(bootstrap, topic, p, next(events).to_json())
    carried = {}
    for i, kind in enumerate(FETCH):
        carried[kind] = next(events)
        await WRITERS[kind](bootstrap, topic, i % PARTITIONS, carried[kind].to_json())
    for _ in range(PLAIN_PER_PARTITION // 2):
        for p in range(PARTITIONS):
            await plain(bootstrap, topic, p, next(events).to_json())
    return carried


def expected_letters() -> dict[int, int]:
    """Per partition, how many undecodable batches it holds."""
    kinds = list(FETCH.values())
    return dict(Counter(i % PARTITIONS for i, k in enumerate(kinds) if k == "undecodable_batch"))


def test_every_record_a_producer_can_write_is_read_or_isolated(stack: Stack, clean_db: Db) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "fetch", PARTITIONS)
    carried = asyncio.run(write_stream(bootstrap, topic))
    applied = PARTITIONS * PLAIN_PER_PARTITION + list(FETCH.values()).count("applied")
    letters = list(FETCH.values()).count("undecodable_batch")
    # Two markers (one commit, one abort) and the aborted record: offsets with nothing to read.
    skipped = 3
    assert published(bootstrap, topic) == applied + letters + skipped

    with running_services(stack, topic) as procs:
        wait_caught_up(db, bootstrap, topic, procs, applied)
        for name, p in procs.items():
            read_apis(name, p.port)
        assert_reconciles(stack.reader_url, bootstrap, topic, groups_of(procs))

    aborted = str(carried["transaction-aborted"].event_id)
    for name in SERVICES:
        assert db.progress_sums(name) == counters(applied, invalid=letters, skipped=skipped)
        assert aborted not in db.event_ids(f"{name}.inbox")
        rows = db.all(f"SELECT partition, reason, payload, error FROM {name}.dead_letters")
        assert Counter(p for p, *_ in rows) == expected_letters(), rows
        assert {(reason, payload) for _, reason, payload, _ in rows} == {
            ("undecodable_batch", None)
        }
        errors = sorted(error.split(":", 1)[0] for *_, error in rows)
        assert errors == ["InflateLimitError", "UnicodeDecodeError"], rows
    check_operator_views(bootstrap, topic, applied)


def check_operator_views(bootstrap: str, topic: str, applied: int) -> None:
    listing = run_cli("tail", topic, "--from-beginning", "--timeout", "5", "--bootstrap", bootstrap)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
    lines = listing.stdout.splitlines()
    assert len([x for x in lines if "undecodable batch" in x]) == sum(expected_letters().values())
    assert {x.split()[0] for x in lines} == {f"partition={p}" for p in range(PARTITIONS)}
    assert f"processed {applied} events" in listing.stderr, listing.stderr
    assert not any(c in listing.stdout for c in "\x00\x1b\x07"), "raw control characters"
    dlq = run_cli("dlq", "audit", "--topic", topic, "--bootstrap", bootstrap, "--limit", "100")
    assert dlq.returncode == 0 and "Traceback" not in dlq.stderr, dlq.stderr
    assert dlq.stdout.count("undecodable_batch") == sum(expected_letters().values()), dlq.stdout
