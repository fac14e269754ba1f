"""The contrasts (issue 17) run through `./fanout scenario run NAME` on the real broker and
database: the strong side exactly (0 lost, 0 doubled, order kept) and the weak side's count
as the verdict reports it, checked against the counter-example's own table and the broker."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

from infra.local.stack import Stack
from shared.broker import committed_offsets, log_end_offsets
from tests.integration.test_scenarios import read_events
from tests.support.catalog import SERVICES
from tests.support.db import Db, counters
from tests.support.kafka import PARTITIONS, new_topic, partition_of
from tests.support.processes import FAST
from tests.support.publishing import balances, billable, publish_events
from tests.support.reconcile import wait_reconciled
from tests.support.scenarios import ScenarioRun, run_scenario, supervised

PUBLISHED = (
    200  # crash-in-the-window's events, the naive consumer's whole read (it joins at the end)
)


def naive_group(run: ScenarioRun) -> str:
    found = {m for line in run.lines for m in re.findall(r"group (naive-[0-9a-f]{8})", line)}
    assert len(found) == 1, run.lines
    return found.pop()


def run_beside_billing(
    stack: Stack, db: Db, tmp_path: Path, name: str, seed: int
) -> tuple[str, ScenarioRun]:
    topic = new_topic(stack.bootstrap, f"scn-{name[:10]}", PARTITIONS)
    publish_events(stack.bootstrap, topic, 1_000, seed=seed)
    with supervised(stack, topic, ("billing",), tmp_path, **FAST) as sup:
        group = sup.running["billing"].spec.env["CONSUMER_GROUP"]
        wait_reconciled(db, stack.bootstrap, topic, "billing", group, 1_000)
        run = run_scenario(name, tmp_path, DATABASE_URL=stack.database_url)
        print("\n".join(run.lines))  # the measured side, for the record (pytest -s)
        assert run.code == 0, run.lines
        assert sup.running["billing"].restarts == 1
    billing_holds_every_event_once(db, stack.bootstrap, topic, run)
    assert db.one("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'naive'") is False
    return topic, run


def billing_holds_every_event_once(db: Db, bootstrap: str, topic: str, run: ScenarioRun) -> None:
    window, _ = run.checks()["duplicates absorbed after the restart"]
    assert db.progress_sums("billing") == counters(1_000 + PUBLISHED, duplicates=int(window))
    assert run.checks()["gaps (reconcile)"] == (0, 0)
    events = read_events(bootstrap, topic, 1_000 + PUBLISHED)
    assert db.count("billing.ledger") == len(billable(events))
    assert db.balances() == balances(events)


def test_plain_vs_idempotent_writes(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db = clean_db
    _, run = run_beside_billing(stack, db, tmp_path, "plain-vs-idempotent-writes", 81)
    group, checks = naive_group(run), run.checks()
    rows, _ = checks["naive table rows of its window"]
    size = int(rows) // 2
    assert 0 < size <= PUBLISHED
    # Read from the naive table itself: the window's events twice each, every other once.
    per_event = db.all(
        "SELECT n, count(*) FROM (SELECT count(*) AS n FROM naive.writes WHERE consumer_group"
        " = %s GROUP BY partition, kafka_offset) c GROUP BY n",
        group,
    )
    assert dict(per_event) == ({1: PUBLISHED - size, 2: size} if size < PUBLISHED else {2: size})
    total_events, total_amount = db.all(
        "SELECT events, amount FROM naive.totals WHERE consumer_group = %s", group
    )[0]
    assert total_events == PUBLISHED + size  # off by exactly the window
    doubled = db.one(
        "SELECT coalesce(sum(amount), 0) FROM (SELECT min(amount) AS amount FROM naive.writes"
        " WHERE consumer_group = %s GROUP BY partition, kafka_offset HAVING count(*) = 2) d",
        group,
    )
    once = db.one(
        "SELECT coalesce(sum(amount), 0) FROM (SELECT min(amount) AS amount FROM naive.writes"
        " WHERE consumer_group = %s GROUP BY partition, kafka_offset) d",
        group,
    )
    assert total_amount - once == doubled
    assert checks == {
        "naive table rows of its window": (2 * size, 2 * size),
        "naive running total minus the events it read": (size, size),
        "naive running amount minus the amount it read": (Decimal(doubled), Decimal(doubled)),
        **{k: v for k, v in checks.items() if not k.startswith("naive")},
    }


def test_auto_vs_manual_commit(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db = clean_db
    topic, run = run_beside_billing(stack, db, tmp_path, "auto-vs-manual-commit", 82)
    group, checks = naive_group(run), run.checks()
    lost, _ = checks["naive events lost (committed, never written)"]
    assert 0 < lost <= PUBLISHED
    assert checks["naive events lost (committed, never written)"] == (lost, lost)
    # From the broker: the naive group committed every offset up to the log end; from its
    # table: each event it wrote once, and exactly the lost ones missing.
    ends = asyncio.run(log_end_offsets(stack.bootstrap, topic))
    assert asyncio.run(committed_offsets(stack.bootstrap, group, topic)) == ends
    written, distinct = db.all(
        "SELECT count(*), count(DISTINCT (partition, kafka_offset)) FROM naive.writes"
        " WHERE consumer_group = %s",
        group,
    )[0]
    assert written == distinct == PUBLISHED - lost
    total = "SELECT coalesce(sum(events), 0) FROM naive.totals WHERE consumer_group = %s"
    assert db.one(total, group) == written


def test_order_within_a_partition(stack: Stack, clean_db: Db, tmp_path: Path) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "scn-order", PARTITIONS)
    publish_events(bootstrap, topic, 300, seed=83)
    with supervised(stack, topic, SERVICES, tmp_path) as sup:
        for name, r in sup.running.items():
            wait_reconciled(db, bootstrap, topic, name, r.spec.env["CONSUMER_GROUP"], 300)
        run = run_scenario("order-within-a-partition", tmp_path)
        assert run.code == 0, run.lines
    n = 30
    assert run.checks() == {
        "partitions the keyed sequence landed on": (1, 1),
        **{
            what: value
            for name in ("audit", "billing", "analytics")
            for what, value in (
                (f"keyed events {name} applied", (n, n)),
                (f"keyed events {name} applied out of order", (0, 0)),
            )
        },
    }
    (user,) = {m for line in run.lines for m in re.findall(r"for (order-[0-9a-f]{8})", line)}
    # Billing's ledger, read directly: the keyed buys (1…n) are the first n on the user's
    # partition, applied in their order; the unkeyed ones lie on the partitions reported.
    rows = db.all(
        "SELECT i.partition, i.kafka_offset, l.amount FROM billing.ledger l"
        " JOIN billing.inbox i USING (event_id) WHERE l.user_id = %s ORDER BY l.seq",
        user,
    )
    home = partition_of(user, PARTITIONS)
    keyed = sorted(r for r in rows if r[0] == home)[:n]
    assert [-int(a) for _, _, a in keyed] == list(range(1, n + 1))  # a buy is a debit
    assert [-int(a) for p, o, a in rows if (p, o, a) in set(keyed)] == list(range(1, n + 1))
    spread = {p for p, o, a in rows if (p, o, a) not in set(keyed)}
    assert f"partitions the unkeyed sequence landed on: measured {len(spread)}" in run.verdict
    audit_ids = db.one(
        "SELECT count(*) FROM audit.deliveries d JOIN audit.events e USING (event_id)"
        " WHERE d.applied AND e.payload LIKE %s",
        f'%"{user}"%',
    )
    assert audit_ids == 2 * n


def test_replication_under_one_broker_says_it_needs_three(stack: Stack, tmp_path: Path) -> None:
    topic = new_topic(stack.bootstrap, "scn-repl-one", PARTITIONS)
    with supervised(stack, topic, ("billing",), tmp_path):
        run = run_scenario("replication", tmp_path)
    assert run.code == 2
    assert run.lines == [
        "cannot run here: replication needs three brokers: run `./fanout up --brokers 3`"
        f" (here: 1 broker(s), {topic} has 1 replica(s))"
    ]
