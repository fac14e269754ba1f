"""The services' database sessions as PostgreSQL shows them (``pg_stat_activity``), and table
locks that stall a batch inside its transaction. A service's role is named like the service."""

from __future__ import annotations

import time
from collections.abc import Callable

import psycopg

from infra.polling import DeadlineExceeded, wait_for
from tests.support.db import Db

Backend = tuple[int, str, str | None, str | None]


def backends(db: Db, role: str) -> list[Backend]:
    """(pid, state, wait_event_type, backend_xid) of every session of ``role``."""
    return db.all(
        "SELECT pid, coalesce(state, ''), wait_event_type, backend_xid::text "
        "FROM pg_stat_activity WHERE usename = %s",
        role,
    )


def write_xids_waiting_on_lock(db: Db, role: str) -> list[str]:
    """Transaction ids of ``role``'s sessions that have written and now wait on a lock:
    a batch stuck mid-transaction, its inbox rows inserted but not committed."""
    return [xid for _, _, wait, xid in backends(db, role) if wait == "Lock" and xid]


def lock_waiters(db: Db, role: str) -> list[int]:
    """Sessions of ``role`` waiting on a lock (a table lock, or another transaction's rows)."""
    return [pid for pid, _, wait, _ in backends(db, role) if wait == "Lock"]


def open_write_xids(db: Db, role: str) -> list[str]:
    return [xid for _, _, _, xid in backends(db, role) if xid]


def xact_status(db: Db, xid: str) -> str:
    """committed / aborted / in progress: the 32-bit ``backend_xid`` widened to an xid8 with
    the current epoch (a test's transactions are seconds old, never across a wraparound)."""
    return str(
        db.one(
            "SELECT pg_xact_status(((pg_current_xact_id()::text::bigint >> 32 << 32)"
            " + %s::bigint)::text::xid8)",
            xid,
        )
    )


def wait_open_tx(db: Db, role: str, timeout: float) -> list[str]:
    """Ids of ``role``'s open write transactions as soon as one shows; [] if none does."""
    try:
        return wait_for(
            lambda: open_write_xids(db, role),
            timeout=timeout,
            what=f"{role} to open a batch transaction",
            interval=0.01,
        )
    except DeadlineExceeded:
        return []


def wait_sessions_gone(db: Db, role: str, timeout: float = 30) -> None:
    """After a SIGKILL: PostgreSQL has noticed and ended (rolled back) the dead client's
    sessions, so what the database shows is final."""
    wait_for(
        lambda: not backends(db, role),
        timeout=timeout,
        what=f"{role}'s sessions to end",
        detail=lambda: repr(backends(db, role)),
    )


def wait_no_open_transaction(db: Db, role: str, timeout: float = 10) -> bool:
    """True when ``role`` has no transaction open (all sessions idle); False when one stays
    open (a stopped process holding it). Waits out statements still running, but not one
    that waits on its client: a process stopped mid-statement (a COPY's rows half sent)
    never lets it finish, and its transaction is open."""

    def settled() -> list[bool]:
        sessions = backends(db, role)
        if any(s == "active" and wait == "Client" for _, s, wait, _ in sessions):
            return [False]
        states = [s for _, s, _, _ in sessions]
        if any(s == "active" for s in states):
            return []
        return [not any(s.startswith("idle in transaction") for s in states)]

    done = wait_for(settled, timeout=timeout, what=f"{role}'s statements to finish", interval=0.05)
    return done[0]


class TransactionWatch:
    """One autocommit session that watches ``role``'s write transactions open and end, as
    fast as PostgreSQL answers (a batch transaction lasts milliseconds)."""

    def __init__(self, db: Db, role: str) -> None:
        self.role = role
        self.conn = psycopg.connect(db.url, autocommit=True)

    def open_xids(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT backend_xid::text FROM pg_stat_activity "
            "WHERE usename = %s AND backend_xid IS NOT NULL",
            (self.role,),
        ).fetchall()
        return {r[0] for r in rows}

    def next_transaction(self, deadline: float, alive: Callable[[], None]) -> set[str]:
        """Waits until a write transaction is open, then until it has ended (committed,
        almost always); returns its ids. Raises DeadlineExceeded at ``deadline``, and what
        ``alive`` raises (GiveUp) when the process has died."""

        def opening() -> set[str]:
            alive()
            return self.open_xids()

        opened = wait_for(
            opening,
            timeout=max(0.0, deadline - time.monotonic()),
            what=f"{self.role} to open a write transaction",
            interval=0.001,
        )
        wait_for(
            lambda: not opened & self.open_xids(),
            timeout=max(0.0, deadline - time.monotonic()),
            what=f"{self.role}'s transaction {opened} to end",
            interval=0,  # each probe is a round trip to PostgreSQL: that is the pace
        )
        return opened

    def close(self) -> None:
        self.conn.close()


class TableLock:
    """``LOCK TABLE … IN ACCESS EXCLUSIVE MODE`` from an admin session, held until release():
    every batch that reaches the table stalls inside its transaction."""

    def __init__(self, db: Db, *tables: str) -> None:
        self.conn = psycopg.connect(db.url)
        for t in tables:
            self.conn.execute(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")
        self.since = time.monotonic()

    @property
    def held(self) -> float:
        return time.monotonic() - self.since

    def release(self) -> None:
        if not self.conn.closed:
            self.conn.rollback()
            self.conn.close()

    def __enter__(self) -> TableLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
