"""Fault-injection helpers: crash windows, reconcile, table locks, extra instances, publishers.

Everything reads real state: committed offsets from the broker, persisted offsets and
transactions from PostgreSQL (``pg_stat_activity``), health and metrics from the services'
own web endpoints. Nothing here sleeps a fixed time: every wait polls a condition.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psycopg
from aiokafka.partitioner import murmur2

from infra import proc
from infra.stack import Stack
from services.publisher.producer import PublishResult, make_producer, publish
from shared.broker import admin_client, committed_offsets, log_end_offsets
from shared.events import Event
from shared.polling import DeadlineExceeded, GiveUp, wait_for
from tests.db import Db
from tests.pipeline import balances, type_totals
from tests.services import SERVICES, ServiceProcess, running_services

# Each service's role in PostgreSQL (compose.yml's DATABASE_URL user) and a table its handler
# writes after the inbox insert: locking it stalls a batch mid-transaction.
ROLE = {"analytics": "analytics", "billing": "billing", "audit": "audit"}
HANDLER_TABLE = {
    "analytics": "analytics.type_minute_counts",
    "billing": "billing.balances",
    "audit": "audit.events",
}
COMMIT_REFUSED = "offset commit refused after rebalance"
PARTITIONS = 6
# The broker's minimum session timeout: a SIGKILLed member leaves the group in 6 s, not 10.
FAST = {"SESSION_TIMEOUT_MS": "6000"}


def groups_of(procs: Mapping[str, ServiceProcess]) -> dict[str, str]:
    return {name: p.env["CONSUMER_GROUP"] for name, p in procs.items()}


# --- broker facts ---------------------------------------------------------------------------


def committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    return asyncio.run(committed_offsets(bootstrap, group, topic))


def ends(bootstrap: str, topic: str) -> dict[int, int]:
    return asyncio.run(log_end_offsets(bootstrap, topic))


def stable_committed(bootstrap: str, group: str, topic: str, settle: float = 0.6) -> dict[int, int]:
    """Committed offsets once no commit is still landing: two reads ``settle`` s apart agree
    (a request a killed process sent just before dying may still be processed)."""
    last: list[dict[int, int]] = [committed(bootstrap, group, topic)]
    mark = [time.monotonic()]

    def settled() -> bool:
        now = committed(bootstrap, group, topic)
        if now != last[0]:
            last[0], mark[0] = now, time.monotonic()
            return False
        return time.monotonic() - mark[0] >= settle

    wait_for(settled, timeout=30, what=f"{group}'s committed offsets to settle", interval=0.2)
    return last[0]


async def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    async with admin_client(bootstrap) as admin:
        meta = await admin.describe_topics([topic])
    return {p["partition"]: p["leader"] for p in meta[0]["partitions"]}


async def partition_isr(bootstrap: str, topic: str) -> dict[int, list[int]]:
    async with admin_client(bootstrap) as admin:
        meta = await admin.describe_topics([topic])
    return {p["partition"]: sorted(p["isr"]) for p in meta[0]["partitions"]}


def partition_of(key: str, partitions: int) -> int:
    """The partition aiokafka's default partitioner gives a key (murmur2, like Java's)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


# --- database facts -------------------------------------------------------------------------


def backends(db: Db, role: str) -> list[tuple[int, str, str | None, str | None]]:
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
    open (a stopped process holding it). Waits out statements still running."""

    def settled() -> list[bool]:
        states = [s for _, s, _, _ in backends(db, role)]
        if any(s == "active" for s in states):
            return []
        return [not any(s.startswith("idle in transaction") for s in states)]

    return wait_for(settled, timeout=timeout, what=f"{role}'s statements to finish", interval=0.05)[
        0
    ]


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


# --- the crash window -----------------------------------------------------------------------


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
    wait_sessions_gone(db, ROLE[p.name])
    done = stable_committed(bootstrap, p.env["CONSUMER_GROUP"], topic)
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


# --- reconcile ------------------------------------------------------------------------------


def reconcile(
    db: Db,
    bootstrap: str,
    topic: str,
    batch: list[Event],
    groups: Mapping[str, str],
    duplicates: Mapping[str, int] | None = None,
    timeout: float = 120,
) -> dict[str, int]:
    """0 lost, 0 double effects, every number exact. ``groups``: service → consumer group.
    Returns each service's absorbed duplicates."""
    n = len(batch)
    log_end = ends(bootstrap, topic)
    assert sum(log_end.values()) == n, f"the log holds {sum(log_end.values())} events, not {n}"
    ids = {str(e.event_id) for e in batch}
    absorbed: dict[str, int] = {}
    for name, group in groups.items():
        wait_reconciled(db, bootstrap, topic, name, group, n, log_end, timeout)
        sums = db.progress_sums(name)
        absorbed[name] = sums["duplicates"]
        assert sums["processed"] == n, f"{name} processed {sums['processed']} of {n}"
        assert sums["invalid"] == 0
        assert sums["copies"] == 0, f"{name} counted {sums['copies']} redeliveries as copies"
        if duplicates is not None and name in duplicates:
            assert sums["duplicates"] == duplicates[name], (
                f"{name} absorbed {sums['duplicates']} duplicates; "
                f"{duplicates[name]} were redelivered"
            )
        assert db.persisted_offsets(name) == {p: off - 1 for p, off in log_end.items() if off}
        got = {str(r[0]) for r in db.all(f"SELECT event_id FROM {name}.inbox")}
        assert got == ids, f"{name}: {len(ids - got)} lost, {len(got - ids)} unknown"
    if "analytics" in groups:
        assert db.analytics_totals() == type_totals(batch)
    if "billing" in groups:
        assert db.balances() == balances(batch)
        assert db.one("SELECT count(*) FROM billing.ledger") == sum(
            1 for e in batch if e.event_type in ("buy", "sell")
        )
    if "audit" in groups:
        assert db.one("SELECT count(*) FROM audit.events") == n
        # audit records every delivery itself: redeliveries seen == duplicates absorbed.
        assert db.redelivered() == absorbed["audit"]
        applied, repeated = db.all(
            "SELECT count(*) FILTER (WHERE applied), count(*) FILTER (WHERE NOT applied) "
            "FROM audit.deliveries"
        )[0]
        assert (applied, repeated) == (n, absorbed["audit"])
    print(f"reconcile {topic}: {n} events, 0 lost, 0 applied twice; duplicates absorbed {absorbed}")
    return absorbed


def wait_reconciled(
    db: Db,
    bootstrap: str,
    topic: str,
    name: str,
    group: str,
    n: int,
    log_end: dict[int, int],
    timeout: float,
) -> None:
    wait_for(
        lambda: db.inbox_count(name) == n,
        timeout=timeout,
        what=f"{name} to persist {n}",
        interval=0.25,
        detail=lambda: f"{name} has {db.inbox_count(name)}",
    )
    wait_for(
        lambda: committed(bootstrap, group, topic) == log_end,
        timeout=60,
        what=f"{group} to commit up to {log_end}",
        detail=lambda: f"committed {committed(bootstrap, group, topic)}",
    )


# --- service processes ----------------------------------------------------------------------


def health(p: ServiceProcess) -> dict:
    """/health's body, also when it answers 503 (database down)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{p.port}/health", timeout=2) as r:
            body = json.loads(r.read())
            body["status"] = r.status
    except urllib.error.HTTPError as err:
        body = json.loads(err.read())
        body["status"] = err.code
    return body


def metric(p: ServiceProcess, name: str) -> float:
    """Sum of a Prometheus sample over its labels (0 when absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{p.port}/metrics", timeout=2) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


T = TypeVar("T")


def alive_and(p: ServiceProcess, probe: Callable[[], T]) -> Callable[[], T]:
    """A wait_for probe that gives up at once when ``p`` has died."""

    def checked() -> T:
        p.check_alive()
        return probe()

    return checked


def wait_stalled(db: Db, p: ServiceProcess, timeout: float = 60) -> list[str]:
    """``p``'s batch is stuck inside its transaction (inbox written, handler waiting on a
    lock); returns the transaction ids."""
    return wait_for(
        alive_and(p, lambda: write_xids_waiting_on_lock(db, ROLE[p.name])),
        timeout=timeout,
        what=f"{p.name}'s batch to stall mid-transaction",
        interval=0.05,
        detail=lambda: p.log,
    )


def wait_open_tx(db: Db, name: str, timeout: float) -> list[str]:
    """Ids of ``name``'s open write transactions as soon as one shows; [] if none does."""
    try:
        return wait_for(
            lambda: open_write_xids(db, ROLE[name]),
            timeout=timeout,
            what=f"{name} to open a batch transaction",
            interval=0.01,
        )
    except DeadlineExceeded:
        return []


def wait_db_up(p: ServiceProcess, up: bool, timeout: float = 60) -> None:
    wait_for(
        alive_and(p, lambda: health(p)["db_up"] is up),
        timeout=timeout,
        what=f"{p.name}'s /health to say db_up={up}",
        detail=lambda: p.log,
    )


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
    group = p.env["CONSUMER_GROUP"]

    def done() -> bool:
        busy = batches == 0 or health(p)["batches"] >= batches or db.inbox_count(p.name) == total
        return busy and w.read_again(committed(bootstrap, group, topic))

    wait_for(
        alive_and(p, done),
        timeout=timeout,
        what=f"{p.name} to read its window again",
        interval=0.2,
        detail=lambda: p.log,
    )


def freeze_in_window(
    db: Db, bootstrap: str, topic: str, p: ServiceProcess, timeout: float = 60
) -> tuple[Window, int] | None:
    """Freeze ``p`` (SIGSTOP) right after one of its batch transactions commits, before its
    offset commit: watch its session until a write transaction opens and ends, stop the
    process at once, and keep it stopped if the database is then ahead of the broker (a
    window > 0); else let it go on and try the next batch. Returns (window, attempts), or
    None if no batch was caught in time (the process is running again then)."""
    role, group = ROLE[p.name], p.env["CONSUMER_GROUP"]
    deadline = time.monotonic() + timeout
    attempts = 0
    with psycopg.connect(db.url, autocommit=True) as watch:

        def xids() -> set[str]:
            rows = watch.execute(
                "SELECT backend_xid::text FROM pg_stat_activity "
                "WHERE usename = %s AND backend_xid IS NOT NULL",
                (role,),
            ).fetchall()
            return {r[0] for r in rows}

        while time.monotonic() < deadline:
            p.check_alive()
            opened = xids()
            if not opened:
                time.sleep(0.001)  # poll interval: a batch transaction lasts milliseconds
                continue
            while opened & xids() and time.monotonic() < deadline:
                pass  # until that transaction has ended (committed, almost always)
            sigstop(p)
            attempts += 1
            w = None
            try:
                if wait_no_open_transaction(db, role):
                    w = Window(
                        p.name,
                        stable_committed(bootstrap, group, topic, 0.4),
                        db.persisted_offsets(p.name),
                    )
                    if w.size > 0:
                        return w, attempts
            finally:
                if w is None or w.size == 0:
                    sigcont(p)
    return None


def sigkill(p: ServiceProcess) -> None:
    assert p.process is not None
    p.check_alive()
    proc.kill(p.process)
    p.exits.append(p.process.returncode)
    assert p.process.returncode == -signal.SIGKILL


def wait_progress(db: Db, p: ServiceProcess, at_least: int, timeout: float = 120) -> int:
    def probe() -> int:
        p.check_alive()
        n = db.inbox_count(p.name)
        return n if n >= at_least else 0

    return wait_for(
        probe,
        timeout=timeout,
        what=f"{p.name} to persist {at_least}",
        interval=0.05,
        detail=lambda: p.log,
    )


def running(
    stack: Stack, topic: str, names: tuple[str, ...] = SERVICES, **env: str
) -> AbstractContextManager[dict[str, ServiceProcess]]:
    """tests/services.running_services with the fault suite's short session timeout."""
    return running_services(stack, topic, names, **{**FAST, **env})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(start: int, size: int) -> int:
    """The first base >= ``start`` with ``size`` consecutive free ports."""
    base = start
    while base < start + 2000:
        try:
            for port in range(base, base + size):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            base += size
    raise RuntimeError(f"no {size} free ports from {start}")


@dataclass
class Instance(ServiceProcess):
    """Another process of a service, in the same consumer group, with its own web port and
    log file (``<name>-<label>.log``)."""

    label: str = "2"

    @property
    def log_path(self) -> Path:
        return self.sup.stack.home / "logs" / f"{self.name}-{self.label}.log"

    @property
    def log(self) -> str:
        return proc.tail(self.log_path, 60)

    def start(self, **overrides: str | None) -> Instance:
        spec = next(s for s in self.sup.specs() if s.name == self.name)
        spec.env.update(self.env)
        for key, value in overrides.items():
            if value is None:
                spec.env.pop(key, None)
            else:
                spec.env[key] = value
        self.full_env = spec.env
        env = {**self.sup.stack.env(), **spec.env}
        self.process = proc.spawn(spec.argv, self.log_path, env=env)
        return self


def twin(p: ServiceProcess, label: str = "2") -> Instance:
    """A second instance of ``p``'s service in ``p``'s consumer group."""
    return Instance(p.name, {**p.env, "WEB_PORT": str(free_port())}, p.sup, label=label)


@contextmanager
def stopped_at_exit(*instances: ServiceProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for i in instances:
            if i.process is not None and i.process.poll() is None:
                proc.stop(i.process)


class LogCursor:
    """What a log file gained since this cursor was made."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.start = path.stat().st_size if path.exists() else 0

    def text(self) -> str:
        if not self.path.exists():
            return ""
        with open(self.path, "rb") as f:
            f.seek(self.start)
            return f.read().decode(errors="replace")

    def count(self, needle: str) -> int:
        return self.text().count(needle)

    def wait_for(self, needle: str, timeout: float) -> None:
        wait_for(
            lambda: needle in self.text(),
            timeout=timeout,
            what=f"{needle!r} in {self.path.name}",
            detail=lambda: self.text()[-3000:],
        )


def log_path(p: ServiceProcess) -> Path:
    return p.log_path if isinstance(p, Instance) else p.sup.stack.home / "logs" / f"{p.name}.log"


def sigstop(p: ServiceProcess) -> None:
    assert p.process is not None
    os.kill(p.process.pid, signal.SIGSTOP)


def sigcont(p: ServiceProcess) -> None:
    assert p.process is not None
    os.kill(p.process.pid, signal.SIGCONT)


# --- publishing in the background ------------------------------------------------------------


def publish_list(bootstrap: str, topic: str, batch: list[Event]) -> list[Event]:
    """Publish these events (acks=all, idempotent); assert every one was acknowledged."""

    async def go() -> PublishResult:
        producer = make_producer(bootstrap, "all")
        await producer.start()
        try:
            return await publish(producer, topic, batch)
        finally:
            await producer.stop()

    result = asyncio.run(go())
    assert (result.acknowledged, result.failed) == (len(batch), 0)
    return batch


@dataclass
class BackgroundPublish:
    """services/publisher/producer.publish (acks=all, idempotent) in a thread, paced at
    ``rate`` events/s, so faults happen mid-stream."""

    bootstrap: str
    topic: str
    batch: list[Event]
    rate: float = 0
    sent: int = 0
    result: PublishResult | None = None
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> BackgroundPublish:
        self._thread = threading.Thread(target=self._run, name=f"publish-{self.topic}", daemon=True)
        self._thread.start()
        return self

    def _count(self, n: int) -> None:
        self.sent += n

    def _run(self) -> None:
        async def go() -> PublishResult:
            producer = make_producer(self.bootstrap, "all")
            await producer.start()
            try:
                return await publish(
                    producer, self.topic, self.batch, rate=self.rate, on_sent=self._count
                )
            finally:
                await producer.stop()

        try:
            self.result = asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    def wait_sent(self, n: int, timeout: float = 120) -> None:
        def probe() -> bool:
            if self.error is not None:
                raise GiveUp(f"publisher failed: {self.error!r}")
            return self.sent >= n or self.done

        wait_for(probe, timeout=timeout, what=f"{n} events sent", interval=0.05)

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def join(self, timeout: float = 180) -> PublishResult:
        assert self._thread is not None
        wait_for(lambda: self.done, timeout=timeout, what="the publisher to finish", interval=0.2)
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass
class TrackedPublish:
    """acks=all idempotent producer (make_producer) in a thread, recording each event's own
    acknowledgement, so "nothing acknowledged is lost" can be checked event by event."""

    bootstrap: str
    topic: str
    batch: list[Event]
    rate: float = 0
    acked: list[Event] = field(default_factory=list)
    failed: list[tuple[Event, BaseException]] = field(default_factory=list)
    sent: int = 0
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> TrackedPublish:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._go()), daemon=True)
        self._thread.start()
        return self

    async def _go(self) -> None:
        producer = make_producer(self.bootstrap, "all")
        try:
            await producer.start()
            pending: list[asyncio.Future[object]] = []
            begin = time.monotonic()
            for e in self.batch:
                if self.rate and (delay := begin + self.sent / self.rate - time.monotonic()) > 0:
                    await asyncio.sleep(delay)  # pacing to the requested rate
                key = e.user_id.encode() if e.user_id else None
                fut = await producer.send(self.topic, e.to_json(), key=key)
                fut.add_done_callback(lambda f, e=e: self._settled(e, f))
                pending.append(fut)
                self.sent += 1
            await asyncio.gather(*pending, return_exceptions=True)
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc
        finally:
            await producer.stop()

    def _settled(self, e: Event, fut: asyncio.Future[object]) -> None:
        if fut.exception() is None:
            self.acked.append(e)
        else:
            self.failed.append((e, fut.exception()))  # type: ignore[arg-type]

    def wait_acked(self, n: int, timeout: float = 120) -> None:
        def probe() -> bool:
            if self.error is not None:
                raise GiveUp(f"publisher failed: {self.error!r}")
            return len(self.acked) >= n

        wait_for(
            probe,
            timeout=timeout,
            what=f"{n} events acknowledged",
            interval=0.05,
            detail=lambda: f"acked {len(self.acked)}, failed {len(self.failed)}",
        )

    def join(self, timeout: float = 180) -> None:
        thread = self._thread
        assert thread is not None
        wait_for(
            lambda: not thread.is_alive(),
            timeout=timeout,
            what="the publisher to finish",
            interval=0.2,
        )
        if self.error is not None:
            raise self.error


def hold_for(seconds: float, check: Callable[[], object], interval: float = 0.5) -> int:
    """Assert ``check`` over and over until ``seconds`` have passed (for "must stay unchanged"
    conditions); an assertion fails at once. Returns how many times it was checked."""
    deadline = time.monotonic() + seconds
    checks = 0
    while True:
        check()
        checks += 1
        if time.monotonic() >= deadline:
            return checks
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))  # poll interval
