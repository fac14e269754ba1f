"""compose.yml's `restart: unless-stopped` on `kafka` and `postgres`, for real: the main
process of each container (the postmaster, the broker's JVM) is SIGKILLed mid-stream, compose's
engine restarts the container on its volume, and every acknowledged event is persisted by
every service exactly once.

The module brings up a tier of its own: its kills leave duplicates absorbed, which the exact
counts of test_compose_up.py's shared tier must not see."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from infra.paths import state_root
from tests.compose.containers import restarted, snapshot, wait_all_committed
from tests.compose.stack import INFRA, LONG_RUNNING, SERVICES, TOPIC, Tier, compose_tier
from tests.support.db import Db
from tests.support.publishing import BackgroundPublish, balances, generate, type_totals

EVENTS = 12_000


@pytest.fixture(scope="module")
def own_tier() -> Iterator[Tier]:
    with compose_tier(state_root() / "compose-infra") as tier:
        tier.wait_healthy(INFRA + LONG_RUNNING)
        yield tier


def kill_main_process(tier: Tier, service: str) -> float:
    """SIGKILL the container's main process; returns the seconds until compose had the
    container running and healthy again (the same container, a new process)."""
    pid = int(tier.state(service)["Pid"])
    assert pid > 0, f"{service} is not running: {tier.state(service)}"
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    restarted(tier, service, old_pid=pid, timeout=120)
    took = time.monotonic() - killed
    print(f"{service}: main process {pid} SIGKILLed, restarted and healthy in {took:.1f}s")
    return took


def test_killed_postgres_and_kafka_containers_come_back_and_nothing_is_lost(
    own_tier: Tier,
) -> None:
    tier = own_tier
    tier.project.compose("stop", "publisher")  # the topic then holds its events and ours only
    db = Db(tier.admin_url)
    wait_all_committed(tier)
    before = snapshot(db)
    stream = list(generate(EVENTS, users=50, seed=911))
    publisher = BackgroundPublish(tier.bootstrap, TOPIC, stream, rate=800).start()
    publisher.wait_sent(2_000)
    for service in INFRA:
        kill_main_process(tier, service)
        if not publisher.done:  # the next kill mid-stream too
            publisher.wait_sent(min(len(stream), publisher.sent + 1_000))
    result = publisher.join()  # acks=all, idempotent: every send acknowledged, none failed
    wait_all_committed(tier, timeout=300)
    after = snapshot(db)
    ids = [str(e.event_id) for e in stream]
    for name in SERVICES:
        assert after.inbox[name] - before.inbox[name] == EVENTS, name
        assert after.sums[name]["processed"] - before.sums[name]["processed"] == EVENTS, name
        found = db.one(f"SELECT count(*) FROM {name}.inbox WHERE event_id::text = ANY(%s)", ids)
        assert found == EVENTS, name
    assert after.totals - before.totals == type_totals(stream)
    moved = {u: b - before.balances.get(u, 0) for u, b in after.balances.items()}
    assert {u: d for u, d in moved.items() if d} == balances(stream)
    absorbed = {n: after.sums[n]["duplicates"] - before.sums[n]["duplicates"] for n in SERVICES}
    restarts = {n: tier.project.container(n)["RestartCount"] for n in (*INFRA, *SERVICES)}
    print(f"publisher {result}; duplicates absorbed {absorbed}; restart counts {restarts}")
