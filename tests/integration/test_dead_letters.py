"""Bad input never blocks a partition: it is dead-lettered with its reason, and the valid
events around it are all persisted; a poison event is isolated; redrive feeds one service."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import orjson

from infra.stack import Stack
from services.publisher.generator import events as generate
from shared.dead_letters import read_dead_letters, redrive
from shared.events import Event
from shared.settings import dlq_topic, redrive_topic
from tests.badinput import BAD_VALUES
from tests.db import Db
from tests.helpers import new_topic, produce, wait_for
from tests.pipeline import balances, type_totals, wait_committed_to_end, wait_persisted
from tests.services import SERVICES, running_services


def dead_reasons(db: Db, schema: str) -> Counter[str]:
    return Counter(r for (r,) in db.all(f"SELECT reason FROM {schema}.dead_letters"))


def test_every_bad_event_is_dead_lettered_and_the_good_ones_persisted(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "bad-input", 1)  # one partition: bad events sit between good
    good = list(generate(40, seed=11))
    first = good[5].model_dump(mode="json")
    conflicting = orjson.dumps(
        {**first, "event_type": "sell" if first["event_type"] != "sell" else "buy"}
    )
    values: list[bytes | None] = [e.to_json() for e in good]
    for i, value in enumerate([*BAD_VALUES.values(), conflicting]):
        values.insert(7 + 3 * i, value)  # after good[5], interleaved with the rest
    # A tombstone needs a key; one partition, so the key changes nothing else.
    assert asyncio.run(produce(bootstrap, topic, values, key=b"k")) == len(values)
    expected = Counter({**{r: 1 for r in BAD_VALUES}, "conflicting_duplicate": 1})

    with running_services(stack, topic) as procs:
        for name, p in procs.items():
            wait_persisted(db, name, 40, proc=p)
            wait_committed_to_end(bootstrap, p.env["CONSUMER_GROUP"], topic)

    for name in SERVICES:
        assert dead_reasons(db, name) == expected
        assert db.progress_sums(name) == {"processed": 40, "duplicates": 0, "invalid": 12}
        letters = asyncio.run(read_dead_letters(bootstrap, dlq_topic(topic, name)))
        assert Counter(d.reason for d in letters) == expected
        sources = {int(d.headers["__connect.errors.offset"]) for d in letters}
        assert sources == {i for i, v in enumerate(values) if v not in [e.to_json() for e in good]}
        assert {d.headers["fanout.service"] for d in letters} == {name}
    # The first write stands: the conflicting copy changed nothing.
    assert db.analytics_totals() == type_totals(good)
    assert db.balances() == balances(good)


def test_a_poison_event_is_dead_lettered_alone_and_redrive_feeds_one_service(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "poison", 1)
    good = list(generate(30, seed=12))
    # Valid by the contract, but PostgreSQL text cannot hold NUL: billing's ledger write fails.
    poison = Event.model_validate(
        {
            **json.loads(good[0].to_json()),
            "event_id": "0e6c3a55-2f43-4d2b-9b7e-3f0cf2a0c001",
            "event_type": "buy",
            "amount": "5.00",
            "user_id": "bad\x00user",
        }
    )
    values = (
        [e.to_json() for e in good[:15]] + [poison.to_json()] + [e.to_json() for e in good[15:]]
    )
    assert asyncio.run(produce(bootstrap, topic, values)) == 31

    with running_services(stack, topic, ("billing", "analytics")) as procs:
        wait_persisted(db, "billing", 30, proc=procs["billing"])
        wait_persisted(db, "analytics", 31, proc=procs["analytics"])  # no poison for analytics
        for p in procs.values():
            wait_committed_to_end(bootstrap, p.env["CONSUMER_GROUP"], topic)
        assert dead_reasons(db, "billing") == Counter({"handler_error": 1})
        assert db.balances() == balances(good)
        [letter] = asyncio.run(read_dead_letters(bootstrap, dlq_topic(topic, "billing")))
        assert letter.headers["__connect.errors.exception.class.name"] == "DataError"
        assert letter.headers["__connect.errors.offset"] == "15"

        # Redrive: billing alone reads it again (and, still poison, dead-letters it again).
        redrive_billing = redrive_topic(topic, "billing")

        def redriven_letters() -> int:
            sql = "SELECT count(*) FROM billing.dead_letters WHERE topic = %s"
            return int(db.one(sql, redrive_billing))  # type: ignore[arg-type]

        def redrive_once() -> int:
            dlq = dlq_topic(topic, "billing")
            return asyncio.run(redrive(bootstrap, "billing", dlq, redrive_billing))

        assert redrive_once() == 1
        wait_for(lambda: redriven_letters() == 1, timeout=60, what="the poison dead again")
        wait_committed_to_end(bootstrap, procs["billing"].env["CONSUMER_GROUP"], redrive_billing)
        dlq = dlq_topic(topic, "billing")
        wait_for(
            lambda: len(asyncio.run(read_dead_letters(bootstrap, dlq))) == 2,
            timeout=30,
            what="a second letter",
        )
        # A second redrive takes only the new letter: the redrive group remembers how far.
        assert redrive_once() == 1
        wait_for(lambda: redriven_letters() == 2, timeout=60, what="the second redrive dead")

    assert db.inbox_count("billing") == 30
    assert db.inbox_count("analytics") == 31  # other groups never saw the redriven event
    assert db.one("SELECT count(*) FROM analytics.dead_letters") == 0
