"""Horizontal scale, tested: three instances of one service share a topic of 12 partitions
(4 each), one is SIGKILLed mid-stream and a replacement joins; every partition keeps exactly
one owner and the result is exact — in both offset strategies (in ``database`` mode the kill
redelivers nothing: 0 absorbed)."""

from __future__ import annotations

import pytest

from infra.local.stack import Stack
from infra.polling import wait_for
from tests.support.db import Db
from tests.support.kafka import new_topic
from tests.support.processes import ServiceProcess, running, stopped_at_exit
from tests.support.publishing import BackgroundPublish, generate
from tests.support.reconcile import reconcile
from tests.support.web import health

PARTITIONS, INSTANCES = 12, 3


def wait_split(instances: list[ServiceProcess], timeout: float = 120) -> dict[str, set[int]]:
    """Until each instance reads 4 partitions of its own and together they read all 12."""

    def owned() -> dict[str, set[int]]:
        for p in instances:
            p.check_alive()
        return {p.log_path.stem: set(health(p.port)["positioned"]) for p in instances}

    def split() -> bool:
        now = owned()
        parts = [p for ps in now.values() for p in ps]
        return all(len(ps) == PARTITIONS // INSTANCES for ps in now.values()) and sorted(
            parts
        ) == list(range(PARTITIONS))

    wait_for(
        split,
        timeout=timeout,
        what="12 partitions split 4/4/4",
        interval=0.5,
        detail=lambda: str(owned()),
    )
    return owned()


@pytest.mark.parametrize("store", ["kafka", "database"])
def test_three_instances_one_killed_and_replaced(stack: Stack, clean_db: Db, store: str) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, f"horizontal-{store}", PARTITIONS)
    stream = list(generate(12_000, users=60, seed=2401))
    with running(stack, topic, ("billing",), OFFSET_STORE=store, BATCH_MAX="300") as procs:
        first = procs["billing"]
        second, third, replacement = first.twin("2"), first.twin("3"), first.twin("4")
        with stopped_at_exit(second, third, replacement):
            second.start()
            third.start()
            before = wait_split([first, second, third])
            publisher = BackgroundPublish(bootstrap, topic, stream, rate=1_500).start()
            publisher.wait_sent(4_000)
            second.kill()
            replacement.start()
            after = wait_split([first, third, replacement])
            publisher.join()  # every event acknowledged
            absorbed = reconcile(
                db, bootstrap, topic, stream, {"billing": first.group},
                {"billing": 0} if store == "database" else None,
            )  # fmt: skip
    print(f"{store}: owners before {before}, after {after}; absorbed {absorbed}")
