"""OFFSET_STORE=database against the real broker and database: each partition's next offset
lives in the service's own transaction, so the crash between the database commit and the Kafka
commit redelivers nothing; a zombie instance is fenced; a database down at assignment never
makes a consumer read from Kafka's (wrong) offset."""

from __future__ import annotations

from infra.stack import Stack
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, new_topic, wait_committed_to_end
from tests.support.processes import ServiceProcess, groups_of, running
from tests.support.publishing import publish_events
from tests.support.reconcile import reconcile
from tests.support.windows import crash_window

DATABASE = {"OFFSET_STORE": "database"}


def rows_match_progress(db: Db, p: ServiceProcess, topic: str) -> dict[int, int]:
    """The row of every partition is one past what the database decided on it: the offset and
    the data were committed together. Returns the rows."""
    stored = db.stored_offsets(p.name, p.group, topic)
    decided = {part: off + 1 for part, off in db.persisted_offsets(p.name, topic).items()}
    assert {part: stored[part] for part in decided} == decided, (stored, decided)
    return stored


def test_crash_between_db_commit_and_kafka_commit_redelivers_nothing(
    stack: Stack, clean_db: Db
) -> None:
    """The crash switch (os._exit right after the third batch's DB commit, before the Kafka
    commit) in all three services in database mode: Kafka's offsets are behind (a window a
    kafka-mode restart would redeliver), the rows are not; after the restart 0 duplicates are
    absorbed, none lost, and Kafka's mirror catches up to the log end."""
    db, bootstrap = clean_db, stack.bootstrap
    topic = new_topic(bootstrap, "offsets-db-crash", PARTITIONS)
    batch = publish_events(bootstrap, topic, 6_000, seed=2001)

    with running(
        stack, topic, CRASH_AFTER_BATCH="3", BATCH_MAX="300", OFFSET_STORE="database"
    ) as procs:
        windows = {}
        for name, p in procs.items():
            p.wait_crashed()
            windows[name] = crash_window(db, bootstrap, p, topic)
            assert windows[name].size > 0, f"{name}'s crash left Kafka's mirror up to date"
            rows_match_progress(db, p, topic)
        for p in procs.values():
            p.start(CRASH_AFTER_BATCH=None)
        print({n: f"Kafka mirror {w.size} behind at the crash" for n, w in windows.items()})
        reconcile(db, bootstrap, topic, batch, groups_of(procs), dict.fromkeys(procs, 0))
        for p in procs.values():
            stored = rows_match_progress(db, p, topic)
            assert wait_committed_to_end(bootstrap, p.group, topic) == stored
            assert committed(bootstrap, p.group, topic) == stored
