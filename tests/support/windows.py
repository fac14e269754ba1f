"""Crash windows: events persisted in the database but not committed in Kafka, which a crash
leaves behind and the restart reads again. Everything here reads real state: committed offsets
from the broker, persisted offsets and transactions from PostgreSQL, health from the process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from infra.polling import DeadlineExceeded, wait_for
from tests.support.db import Db
from tests.support.kafka import committed, stable_committed
from tests.support.processes import ServiceProcess
from tests.support.sessions import (
    TransactionWatch,
    wait_no_open_transaction,
    wait_sessions_gone,
    write_xids_waiting_on_lock,
)
from tests.support.web import health


@dataclass
class Window:
    """Persisted in the database but not committed in Kafka, right after a crash."""

    service: str
    committed: dict[int, int]
    persisted: dict[int, int]

    @property
    def size(self) -> int:
        return sum(off + 1 - self.committed.get(p, 0) for p, off in self.persisted.items())

    def read_again(self, done: Mapping[int, int]) -> bool:
        """Committed offsets ``done`` are past every event of this window."""
        return all(done.get(p, 0) >= off + 1 for p, off in self.persisted.items())


def crash_window(db: Db, bootstrap: str, p: ServiceProcess, topic: str) -> Window:
    """Measure a dead service's window and assert the ordering invariant on every partition:
    an offset is committed only after its event is persisted (committed <= persisted + 1)."""
    assert p.process is not None and p.process.poll() is not None, f"{p.name} still runs"
    wait_sessions_gone(db, p.name)
    done = stable_committed(bootstrap, p.group, topic)
    persisted = db.persisted_offsets(p.name)  # read after the broker: it only grows
    assert_commit_not_ahead(p.name, done, persisted)
    return Window(p.name, done, persisted)


def assert_commit_not_ahead(
    name: str, done: Mapping[int, int], persisted: Mapping[int, int]
) -> None:
    for part, off in done.items():
        assert off <= persisted.get(part, -1) + 1, (
            f"{name} committed offset {off} on partition {part} before persisting it "
            f"(persisted up to {persisted.get(part)})"
        )


def check_commit_not_ahead(db: Db, bootstrap: str, name: str, group: str, topic: str) -> None:
    """The invariant on a live service: read the broker first, then the database (which only
    grows), so a commit racing the two reads cannot produce a false alarm."""
    done = committed(bootstrap, group, topic)
    assert_commit_not_ahead(name, done, db.persisted_offsets(name))


def wait_window_read(
    db: Db,
    bootstrap: str,
    topic: str,
    p: ServiceProcess,
    w: Window,
    batches: int = 0,
    total: int | None = None,
    timeout: float = 120,
) -> None:
    """A restarted ``p`` has committed past its last crash window ``w`` (every event of it
    read again) and, when asked, persisted ``batches`` batches since its start (or all
    ``total`` events are in)."""

    def done() -> bool:
        busy = (
            batches == 0 or health(p.port)["batches"] >= batches or db.inbox_count(p.name) == total
        )
        return busy and w.read_again(committed(bootstrap, p.group, topic))

    wait_for(
        p.alive_and(done),
        timeout=timeout,
        what=f"{p.name} to read its window again",
        interval=0.2,
        detail=lambda: p.log,
    )


def wait_stalled(db: Db, p: ServiceProcess, timeout: float = 60) -> list[str]:
    """``p``'s batch is stuck inside its transaction (inbox written, handler waiting on a
    lock); returns the transaction ids."""
    return wait_for(
        p.alive_and(lambda: write_xids_waiting_on_lock(db, p.name)),
        timeout=timeout,
        what=f"{p.name}'s batch to stall mid-transaction",
        interval=0.05,
        detail=lambda: p.log,
    )


def wait_db_up(p: ServiceProcess, up: bool, timeout: float = 60) -> None:
    wait_for(
        p.alive_and(lambda: health(p.port)["db_up"] is up),
        timeout=timeout,
        what=f"{p.name}'s /health to say db_up={up}",
        detail=lambda: p.log,
    )


class Freezable(Protocol):
    """What freezing needs of a process: a local one, or a compose container's main process."""

    name: str

    @property
    def group(self) -> str: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def check_alive(self) -> None: ...


def freeze_in_window(
    db: Db, bootstrap: str, topic: str, p: Freezable, timeout: float = 60
) -> tuple[Window, int] | None:
    """Freeze ``p`` (SIGSTOP) right after one of its batch transactions commits, before its
    offset commit: watch its session until a write transaction opens and ends, stop the
    process at once, and keep it stopped if the database is then ahead of the broker (a
    window > 0); else let it go on and try the next batch. Returns (window, attempts), or
    None if no batch was caught in time (the process is running again then)."""
    deadline = time.monotonic() + timeout
    attempts = 0
    watch = TransactionWatch(db, p.name)
    try:
        while True:
            try:
                watch.next_transaction(deadline, p.check_alive)
            except DeadlineExceeded:
                return None
            p.pause()
            attempts += 1
            w = window_if_frozen_inside(db, bootstrap, topic, p)
            if w is not None:
                return w, attempts
            p.resume()
    finally:
        watch.close()


def window_if_frozen_inside(db: Db, bootstrap: str, topic: str, p: Freezable) -> Window | None:
    """The window of a frozen ``p`` when it froze inside one: no transaction open, the
    database ahead of the broker. Resumes ``p`` if anything here fails."""
    try:
        if not wait_no_open_transaction(db, p.name):
            return None
        w = Window(
            p.name, stable_committed(bootstrap, p.group, topic, 0.4), db.persisted_offsets(p.name)
        )
        return w if w.size > 0 else None
    except BaseException:
        p.resume()
        raise


def window_sizes(windows: Mapping[str, Window | list[Window]]) -> dict[str, int]:
    """Per service, the events its crash windows left (what the restarts must absorb)."""
    return {
        name: sum(w.size for w in (ws if isinstance(ws, list) else [ws]))
        for name, ws in windows.items()
    }
