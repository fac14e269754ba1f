"""Waiting until the services caught up, and the exact reconciliation: 0 lost, 0 applied twice,
every counter equal to what the broker holds and what the published batch implies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping

from infra.paths import ROOT
from infra.polling import wait_for
from shared.events import Event
from tests.support.db import Db
from tests.support.kafka import ends, wait_committed_to_end
from tests.support.processes import ServiceProcess
from tests.support.publishing import balances, billable, event_ids, type_totals


def _wait_inbox(
    db: Db,
    name: str,
    enough: Callable[[int], bool],
    what: str,
    proc: ServiceProcess | None,
    timeout: float,
    interval: float,
) -> int:
    def probe() -> list[int]:  # [count] once enough: truthy even when the count is 0
        if proc is not None:
            proc.check_alive()
        n = db.inbox_count(name)
        return [n] if enough(n) else []

    return wait_for(
        probe,
        timeout=timeout,
        what=f"{name} to persist {what}",
        interval=interval,
        detail=lambda: f"{name} has {db.inbox_count(name)}" + (f"\n{proc.log}" if proc else ""),
    )[0]


def wait_persisted(
    db: Db, name: str, expected: int, timeout: float = 120, proc: ServiceProcess | None = None
) -> None:
    """``name``'s inbox holds exactly ``expected`` events."""
    _wait_inbox(db, name, lambda n: n == expected, str(expected), proc, timeout, 0.25)


def wait_progress(db: Db, p: ServiceProcess, at_least: int, timeout: float = 120) -> int:
    """``p`` has persisted ``at_least`` events; returns how many."""
    return _wait_inbox(db, p.name, lambda n: n >= at_least, f"{at_least}", p, timeout, 0.05)


def wait_reconciled(
    db: Db,
    bootstrap: str,
    topic: str,
    name: str,
    group: str,
    n: int,
    timeout: float = 120,
    proc: ServiceProcess | None = None,
) -> dict[int, int]:
    """``name`` persisted ``n`` events and its group committed up to the log end."""
    wait_persisted(db, name, n, timeout, proc)
    return wait_committed_to_end(bootstrap, group, topic)


def wait_caught_up(
    db: Db, bootstrap: str, topic: str, procs: Mapping[str, ServiceProcess], n: int
) -> dict[str, dict[int, int]]:
    """Every process persisted ``n`` events and committed to the log end (returned)."""
    return {
        name: wait_reconciled(db, bootstrap, topic, name, p.group, n, proc=p)
        for name, p in procs.items()
    }


def reconcile(
    db: Db,
    bootstrap: str,
    topic: str,
    batch: list[Event],
    groups: Mapping[str, str],
    duplicates: Mapping[str, int] | None = None,
    timeout: float = 120,
) -> dict[str, int]:
    """0 lost, 0 double effects, every number exact. ``groups``: service → consumer group;
    ``duplicates``: the duplicates each service must have absorbed. Returns them."""
    n = len(batch)
    log_end = ends(bootstrap, topic)
    assert sum(log_end.values()) == n, f"the log holds {sum(log_end.values())} events, not {n}"
    absorbed: dict[str, int] = {}
    for name, group in groups.items():
        wait_reconciled(db, bootstrap, topic, name, group, n, timeout)
        expected = None if duplicates is None else duplicates.get(name)
        absorbed[name] = check_counters(db, name, batch, log_end, expected)
    check_effects(db, batch, groups, absorbed.get("audit", 0))
    print(f"reconcile {topic}: {n} events, 0 lost, 0 applied twice; duplicates absorbed {absorbed}")
    return absorbed


def check_counters(
    db: Db, name: str, batch: list[Event], log_end: Mapping[int, int], duplicates: int | None
) -> int:
    """``name`` applied each event of ``batch`` once, up to the log end; returns the
    duplicates it absorbed (which must equal ``duplicates`` when given)."""
    n, sums = len(batch), db.progress_sums(name)
    assert sums["processed"] == n, f"{name} processed {sums['processed']} of {n}"
    assert sums["invalid"] == 0
    assert sums["copies"] == 0, f"{name} counted {sums['copies']} redeliveries as copies"
    if duplicates is not None:
        assert sums["duplicates"] == duplicates, (
            f"{name} absorbed {sums['duplicates']} duplicates; {duplicates} were redelivered"
        )
    assert db.persisted_offsets(name) == {p: off - 1 for p, off in log_end.items() if off}
    got, ids = db.event_ids(f"{name}.inbox"), event_ids(batch)
    assert got == ids, f"{name}: {len(ids - got)} lost, {len(got - ids)} unknown"
    return sums["duplicates"]


def check_effects(db: Db, batch: list[Event], names: Iterable[str], redelivered: int) -> None:
    """Each service's own tables hold exactly what ``batch`` implies, once; audit saw
    ``redelivered`` redeliveries."""
    names, n = set(names), len(batch)
    if "analytics" in names:
        assert db.analytics_totals() == type_totals(batch)
    if "billing" in names:
        assert db.balances() == balances(batch)
        assert db.count("billing.ledger") == len(billable(batch))
    if "audit" in names:
        assert db.count("audit.events") == n
        # audit records every delivery itself: redeliveries seen == duplicates absorbed.
        assert db.redelivered() == redelivered
        applied, repeated = db.all(
            "SELECT count(*) FILTER (WHERE applied), count(*) FILTER (WHERE NOT applied) "
            "FROM audit.deliveries"
        )[0]
        assert (applied, repeated) == (n, redelivered)


def run_reconcile(
    url: str, bootstrap: str, topic: str, groups: Mapping[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    """`./fanout reconcile` as an operator runs it (its own process and exit code)."""
    argv = [sys.executable, "-m", "infra.cli", "reconcile", *groups]
    argv += ["--bootstrap", bootstrap, "--database-url", url, "--topic", topic, *extra]
    for service, group in groups.items():
        argv += ["--group", f"{service}={group}"]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def assert_reconciles(url: str, bootstrap: str, topic: str, groups: Mapping[str, str]) -> None:
    done = run_reconcile(url, bootstrap, topic, groups)
    assert done.returncode == 0, done.stdout + done.stderr


def skip_to_end(bootstrap: str, group: str, topic: str) -> None:
    """`./fanout reset-offsets GROUP --to-latest --execute`, as an operator would."""
    argv = [sys.executable, "-m", "infra.cli", "reset-offsets", group, "--topic", topic]
    argv += ["--to-latest", "--execute", "--bootstrap", bootstrap]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
