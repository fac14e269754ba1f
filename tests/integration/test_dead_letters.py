"""The failure of the failure handling, poison events, redrive, and exact reconciliation.

A dead letter the table or the broker refuses is kept in its minimal form and the partition
moves on; a poison event is dead-lettered alone and, once the cause is fixed, a redrive applies
it to one service; reconcile balances after a redrive and after a byte-identical copy, and still
shows a real loss.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.local.stack import Stack
from infra.ops.dlq import read_dead_letters, read_newest, redrive
from infra.polling import wait_for
from shared.broker import admin_client
from shared.settings import dlq_topic, redrive_topic
from tests.badinput import bad
from tests.support.catalog import SERVICES
from tests.support.db import Db, check_constraint, counters
from tests.support.kafka import new_topic, produce
from tests.support.processes import ServiceProcess, groups_of, running_services
from tests.support.publishing import balances, generate
from tests.support.reconcile import (
    assert_reconciles,
    run_reconcile,
    skip_to_end,
    wait_caught_up,
    wait_reconciled,
)


def reconciled(stack: Stack, topic: str, procs: dict[str, ServiceProcess]) -> None:
    assert_reconciles(stack.reader_url, stack.bootstrap, topic, groups_of(procs))


def test_a_dead_letter_the_table_refuses_is_stored_in_its_minimal_form(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "dlq-table-refuses", 1)
    good = [e.to_json() for e in generate(20, seed=31)]
    hostile = bad(event_type="jump")
    assert asyncio.run(produce(bootstrap, topic, [*good[:10], hostile, *good[10:]])) == 21
    refuse = "payload IS NULL OR reason <> 'unknown_event_type'"
    with (
        check_constraint(db, "analytics.dead_letters", refuse),
        check_constraint(db, "billing.dead_letters", refuse),
        check_constraint(db, "audit.dead_letters", refuse),
        running_services(stack, topic) as procs,
    ):
        wait_caught_up(db, bootstrap, topic, procs, 20)
        reconciled(stack, topic, procs)
    for name in SERVICES:
        [(reason, payload, size, error)] = db.all(
            f"SELECT reason, payload, payload_size, error FROM {name}.dead_letters"
        )
        assert (reason, payload, size) == ("unknown_event_type", None, len(hostile))
        assert "minimal form: IntegrityError" in error
        # The topic took the full letter: only the table's copy is minimal.
        [letter] = asyncio.run(read_dead_letters(bootstrap, dlq_topic(topic, name)))
        assert (letter.value, letter.reason) == (hostile, "unknown_event_type")


async def shrink_topic(bootstrap: str, topic: str, max_bytes: int) -> None:
    async with admin_client(bootstrap) as admin:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"max.message.bytes": str(max_bytes)})]
        )


def test_a_dead_letter_the_broker_refuses_is_sent_in_its_minimal_form(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "dlq-broker-refuses", 1)
    good = [e.to_json() for e in generate(20, seed=32)]
    hostile = bad(user_id="u" * 3000)  # invalid_user_id, 3 KB: whole in the table
    with running_services(stack, topic, ("billing",)) as procs:
        procs["billing"].wait_assigned(1)
        # After the service read the topic's limits: the broker now refuses the full letter.
        asyncio.run(shrink_topic(bootstrap, dlq_topic(topic, "billing"), 2000))
        assert asyncio.run(produce(bootstrap, topic, [*good[:10], hostile, *good[10:]])) == 21
        wait_caught_up(db, bootstrap, topic, procs, 20)
        reconciled(stack, topic, procs)
    [letter] = asyncio.run(read_dead_letters(bootstrap, dlq_topic(topic, "billing")))
    assert letter.value is None and letter.reason == "invalid_user_id"
    assert "MessageSizeTooLarge" in letter.headers["fanout.minimal"]
    assert letter.headers["fanout.payload.size"] == str(len(hostile))
    assert letter.headers["__connect.errors.offset"] == "10"
    assert db.all("SELECT payload FROM billing.dead_letters") == [(hostile,)]


def check_dead_alone(db: Db, bootstrap: str, dlq: str, offset: int) -> None:
    """billing dead-lettered one event, the poison at ``offset``, for the database's refusal."""
    assert db.dead_reasons("billing") == Counter({"handler_error": 1})
    [letter] = asyncio.run(read_dead_letters(bootstrap, dlq))
    assert letter.headers["__connect.errors.exception.class.name"] == "IntegrityError"
    assert letter.headers["__connect.errors.offset"] == str(offset)


def test_a_poison_event_is_dead_lettered_alone_and_redriven_once_fixed(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "poison", 1)
    good = [e for e in generate(30, seed=12)]
    poison = next(e for e in good[10:] if e.event_type == "buy")
    assert asyncio.run(produce(bootstrap, topic, [e.to_json() for e in good])) == 30
    dlq, again = dlq_topic(topic, "billing"), redrive_topic(topic, "billing")

    def redrive_once() -> int:
        return asyncio.run(redrive(bootstrap, "billing", dlq, again))

    # A write the database refuses for this one event: billing's handler cannot apply it.
    with running_services(stack, topic, ("billing", "analytics")) as procs:
        billing = procs["billing"]
        with check_constraint(db, "billing.ledger", f"event_id <> '{poison.event_id}'"):
            wait_reconciled(db, bootstrap, topic, "billing", billing.group, 29, proc=billing)
            wait_caught_up(db, bootstrap, topic, {"analytics": procs["analytics"]}, 30)
            check_dead_alone(db, bootstrap, dlq, good.index(poison))
            reconciled(stack, topic, procs)
            # Redriven while the cause remains: dead again, on the redrive topic this time.
            assert redrive_once() == 1
            wait_for(
                lambda: db.count("billing.dead_letters", f"topic = '{again}'") == 1,
                timeout=60,
                what="the poison dead again",
            )
        # The cause fixed: a second redrive takes only the new letter, and it applies.
        wait_for(
            lambda: len(asyncio.run(read_dead_letters(bootstrap, dlq))) == 2,
            timeout=30,
            what="a second letter",
        )
        assert redrive_once() == 1
        wait_reconciled(db, bootstrap, again, "billing", billing.group, 30, proc=billing)
        reconciled(stack, topic, procs)
    assert db.balances() == balances(good)
    assert db.inbox_count("analytics") == 30  # other groups never saw the redriven event
    assert db.count("analytics.dead_letters") == 0


def test_reconcile_balances_a_republished_copy_and_still_shows_a_loss(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "copies", 3)
    good = [e.to_json() for e in generate(20, seed=33)]
    copies = [good[2], good[7], good[11]]  # published again, byte for byte
    assert asyncio.run(produce(bootstrap, topic, [*good, *copies])) == 23
    with running_services(stack, topic) as procs:
        wait_caught_up(db, bootstrap, topic, procs, 20)
        reconciled(stack, topic, procs)
        for p in procs.values():
            p.stop()
    for name in SERVICES:
        assert db.progress_sums(name) == counters(20, duplicates=3, copies=3)
    # A loss: five events published, then every group's offsets moved past them unread.
    assert asyncio.run(produce(bootstrap, topic, [e.to_json() for e in generate(5, seed=34)]))
    for group in groups_of(procs).values():
        skip_to_end(bootstrap, group, topic)
    lost = run_reconcile(stack.reader_url, bootstrap, topic, groups_of(procs))
    assert lost.returncode == 1, lost.stdout + lost.stderr
    for name in SERVICES:
        lines = [x for x in lost.stdout.splitlines() if x.startswith(f"gap in {name}: ")]
        assert sum(int(n) for x in lines for n in re.findall(r"(\d+) lost", x)) == 5, lines


def test_dlq_limit_reads_only_the_newest(stack: Stack) -> None:
    """`./fanout dlq --limit N` seeks to the last N: a topic of any size costs N reads."""
    topic = new_topic(stack.bootstrap, "dlq-newest", 1)
    asyncio.run(produce(stack.bootstrap, topic, [f"letter-{i}".encode() for i in range(30)]))
    letters, total = asyncio.run(read_newest(stack.bootstrap, topic, 5))
    assert total == 30
    assert [(d.offset, d.value) for d in letters] == [
        (i, f"letter-{i}".encode()) for i in range(25, 30)
    ]
