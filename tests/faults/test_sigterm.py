"""SIGTERM is a clean stop: the batch in flight finishes all seven steps, the committed offsets
equal what was persisted, and a restart redelivers nothing."""

from __future__ import annotations

import signal

from infra.local.stack import Stack
from tests.support.catalog import STALL_TABLE
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic, stable_committed
from tests.support.processes import LogCursor, ServiceProcess, groups_of, running
from tests.support.publishing import publish_events
from tests.support.reconcile import reconcile, wait_caught_up
from tests.support.sessions import (
    TableLock,
    wait_sessions_gone,
    write_xids_waiting_on_lock,
    xact_status,
)
from tests.support.windows import wait_stalled


def test_sigterm_commits_the_batch_in_flight_and_restart_redelivers_nothing(
    stack: Stack, clean_db: Db
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "sigterm", PARTITIONS)
    first = publish_events(bootstrap, topic, 3_000, seed=201)

    with running(stack, topic, BATCH_MAX="1000") as procs:
        wait_caught_up(db, bootstrap, topic, procs, 3_000)
        logs = {name: LogCursor(p.log_path) for name, p in procs.items()}
        in_flight: dict[str, list[str]] = {}
        with TableLock(db, *STALL_TABLE.values()):
            second = publish_events(bootstrap, topic, 4_000, seed=202)
            for name, p in procs.items():
                in_flight[name] = wait_stalled(db, p)
            for p in procs.values():
                assert p.process is not None
                p.process.send_signal(signal.SIGTERM)
            # The stop has begun while each batch is still inside its transaction.
            for name in procs:
                logs[name].wait_for("Signal received: 15", timeout=30)
                assert write_xids_waiting_on_lock(db, name) == in_flight[name]
        # Lock released: the batches in flight finish, commit, and only then the processes exit.
        for name, p in procs.items():
            check_clean_stop(db, bootstrap, topic, p, in_flight[name], logs[name])
        for p in procs.values():
            p.start()
        reconcile(db, bootstrap, topic, first + second, groups_of(procs), dict.fromkeys(procs, 0))


def check_clean_stop(
    db: Db, bootstrap: str, topic: str, p: ServiceProcess, in_flight: list[str], log: LogCursor
) -> None:
    """``p`` exited 0 after committing its batch in flight, and its offsets up to it."""
    assert p.wait_exit(timeout=60) == 0, p.log
    wait_sessions_gone(db, p.name)
    assert [xact_status(db, x) for x in in_flight] == ["committed"]
    persisted = db.persisted_offsets(p.name)
    (xid,) = in_flight
    batch = db.count(f"{p.name}.inbox", f"xmin::text = '{int(xid)}'")
    # Its batch in flight is in, and the inbox is exactly the offsets persisted (a new topic:
    # offset n is the n+1-th event of its partition), so nothing past it either.
    assert 1 <= batch <= 1_000, f"{p.name}: its batch in flight wrote {batch} inbox rows"
    assert db.inbox_count(p.name) == 3_000 + batch == sum(o + 1 for o in persisted.values())
    # Committed at stop == persisted + 1 on every partition: no window at all.
    assert stable_committed(bootstrap, p.group, topic) == {
        part: off + 1 for part, off in persisted.items()
    }
    assert "did not finish in time" not in log.text()
