"""`./fanout restart SERVICE`, `crash SERVICE`, `pause SERVICE` and `resume SERVICE`: act on
one process of a running `./fanout up` (its supervisor restarts it when it exits)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from infra.local.status_file import read_status, signal_named
from infra.paths import state_root

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(restart)
    app.command()(crash)
    app.command()(pause)
    app.command()(resume)


def _service_status(service: str) -> tuple[dict, dict]:
    st = read_status(state_root() / "up")
    if not st:
        console.print("fanout is not running (`./fanout up`)")
        raise typer.Exit(1)
    svc = st.get("services", {}).get(service)
    if svc is None:
        console.print(f"no service {service!r}; running: {', '.join(st.get('services', {}))}")
        raise typer.Exit(1)
    return st, svc


def _wait_new_pid(service: str, old_pid: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(state_root() / "up") or {}
        pid = st.get("services", {}).get(service, {}).get("pid")
        if pid and pid != old_pid:
            return int(pid)
        time.sleep(0.3)  # the supervisor restarts it within a couple of seconds
    raise typer.Exit(1)


def restart(
    service: Annotated[str, typer.Argument(help="publisher, analytics, billing or audit")],
) -> None:
    """Stop SERVICE cleanly (SIGTERM: it finishes its batch); the supervisor starts it again."""
    _, svc = _service_status(service)
    if not signal_named(svc, 15):
        console.print(
            f"{service}: pid {svc['pid']} is no longer the process the supervisor started "
            "(a stale status entry): not signalled"
        )
        raise typer.Exit(1)
    console.print(f"{service} restarted: pid {svc['pid']} -> {_wait_new_pid(service, svc['pid'])}")


def crash(service: Annotated[str, typer.Argument(help="analytics, billing or audit")]) -> None:
    """Make SERVICE die right after its next DB commit, before its offset commit.

    The supervisor restarts it; the batch is redelivered and absorbed: watch its
    duplicates-absorbed counter rise while its totals stay right.
    """
    import urllib.request

    from shared.local_only import crash_request

    _, svc = _service_status(service)
    urllib.request.urlopen(crash_request(svc["port"]), timeout=5).read()
    console.print(f"{service}: crash armed; it dies after its next batch's DB commit")
    console.print(f"{service}: restarted as pid {_wait_new_pid(service, svc['pid'])}")


def _switch(service: str, action: str) -> None:
    import urllib.request

    from shared.local_only import action_request

    _, svc = _service_status(service)
    urllib.request.urlopen(action_request(svc["port"], action), timeout=5).read()


def pause(service: Annotated[str, typer.Argument(help="analytics, billing or audit")]) -> None:
    """Stop SERVICE fetching, between batches; its process, group membership and dashboard
    stay (watch its lag grow while the others keep up). `./fanout resume` lets it go on."""
    _switch(service, "pause")
    console.print(f"{service}: paused after its batch in flight (`./fanout resume {service}`)")


def resume(service: Annotated[str, typer.Argument(help="analytics, billing or audit")]) -> None:
    """Let a paused SERVICE fetch again: it drains its lag at its own pace."""
    _switch(service, "resume")
    console.print(f"{service}: resumed")
