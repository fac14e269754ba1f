"""Lifecycle commands: up, down, status, init, test, reset."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from infra.compose.spec import COMPOSE
from infra.compose.v1 import docker_compose_config
from infra.kafka.credentials import mask
from infra.kafka.principals import LEARNER
from infra.local import cleanup
from infra.local.stack import Stack, redacted
from infra.local.status_file import read_status, signal_named
from infra.local.supervisor import Supervisor
from infra.paths import ROOT, state_root
from infra.settings import StackSettings, suite_settings

console = Console()


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
    app.command()(status)
    app.command()(init)
    app.command("env")(write_env)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(test)
    app.command()(reset)
    app.command("compose-check")(compose_check)


def _print_where(sup: Supervisor) -> None:
    overview = _overview_url(sup)
    if overview:  # the page a newcomer should open first: the picture and the scenarios
        console.print(
            f"start here: [bold]{overview}[/] (the fan-out picture and the scenarios)",
            soft_wrap=True,
        )
    table = Table(title="fanout is up (Ctrl-C stops everything)")
    table.add_column("what")
    table.add_column("where", overflow="fold")  # a path is shown whole, folded
    if overview:
        table.add_row("overview", overview)
    table.add_row("Kafka (KRaft)", f"{sup.stack.bootstrap} (SASL/SCRAM-SHA-512, ACLs)")
    store = sup.stack.credentials
    table.add_row(  # never the password in full (README: security)
        "your own Kafka client",
        f"user {LEARNER}, password {mask(store.password(LEARNER))}: "
        f"{store.path(LEARNER)}, client configs beside it",
    )
    table.add_row("PostgreSQL", redacted(sup.stack.database_url))
    s = sup.stack.settings
    table.add_row("topic", f"{s.topic} ({s.partitions} partitions, rf {s.replication})")
    for name, r in sup.running.items():
        port = r.spec.web_port
        table.add_row(name, f"http://127.0.0.1:{port}/" if port else f"pid {r.process.pid}")
    table.add_row("scenarios", "`./fanout scenario list`, or Run on the overview")
    table.add_row("logs", str(sup.stack.home / "logs"))
    console.print(table)


def _overview_url(sup: Supervisor) -> str | None:
    publisher = sup.running.get("publisher")
    port = publisher.spec.web_port if publisher else None
    return f"http://127.0.0.1:{port}/overview" if port else None


def up(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background.")] = False,
    brokers: Annotated[int, typer.Option(help="Kafka nodes (3 gives rf 3, min ISR 2).")] = 1,
    infra_only: Annotated[bool, typer.Option(help="Broker, database and topic only.")] = False,
) -> None:
    """Start broker, database, topic, migrations, publisher and the three services."""
    overrides: dict[str, object] = {"brokers": brokers}
    if brokers >= 3:
        overrides["replication"] = 3
    settings = StackSettings(**overrides)  # type: ignore[arg-type]
    stack = Stack(settings, "up")
    running = read_status(stack.home)
    if running:
        console.print(
            f"fanout is already running (pid {running['pid']}); `./fanout down` stops it."
        )
        raise typer.Exit(1)
    if detach:
        _detach(brokers, infra_only, stack)
        return
    Supervisor(stack).run(with_services=not infra_only, on_ready=_print_where)


def _detach(brokers: int, infra_only: bool, stack: Stack) -> None:
    argv = [sys.executable, "-m", "infra.cli", "up", f"--brokers={brokers}"]
    if infra_only:
        argv.append("--infra-only")
    log = stack.home / "up.log"
    stack.home.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        st = read_status(stack.home)
        if st and "services" in st and (infra_only or st["services"]):
            # Already laid out by the child: printed as it is, never wrapped again.
            console.print(log.read_text()[-3000:] or "fanout is up", soft_wrap=True)
            console.print(f"running in the background (pid {child.pid}); `./fanout down` stops it")
            return
        if child.poll() is not None:
            console.print(log.read_text()[-3000:])
            raise typer.Exit(1)
        time.sleep(0.5)  # waiting for the detached supervisor's status file
    raise typer.Exit(1)


def down() -> None:
    """Stop a detached `./fanout up` (and anything it left behind)."""
    home = state_root() / "up"
    st = read_status(home)
    if st and not signal_named(st, 15):
        console.print(f"the supervisor (pid {st['pid']}) is gone or another process: not signalled")
        st = None
    if st:
        deadline = time.monotonic() + 90
        while read_status(home) and time.monotonic() < deadline:
            time.sleep(0.3)  # the supervisor stops services, then broker and database
    left = cleanup.end_processes_of(home)
    console.print("stopped" if st or left else "nothing was running")


def status() -> None:
    """What runs where, whether each process is up, and how often it was restarted."""
    st = read_status(state_root() / "up")
    if not st:
        console.print("fanout is not running (`./fanout up`)")
        raise typer.Exit(1)
    table = Table(title=f"fanout (supervisor pid {st['pid']})")
    for col in ("process", "pid", "state", "restarts", "where"):
        table.add_column(col)
    database = redacted(st.get("database", ""))  # a status file of an older version: full URL
    infra = st.get("infra", {})
    for name, c in infra.items():
        where = database if name == "postgres" else st["kafka"]
        table.add_row(name, str(c["pid"] or "-"), _state(c), str(c["restarts"]), where)
    if "postgres" not in infra:
        table.add_row("postgres", str(st.get("postgres_pid") or "external"), "", "", database)
    for name, svc in st.get("services", {}).items():
        port = svc.get("port")
        where = f"http://127.0.0.1:{port}/" if port else ""
        table.add_row(name, str(svc["pid"]), _state(svc), str(svc["restarts"]), where)
    console.print(table)
    for name, c in {**infra, **st.get("services", {})}.items():
        if c.get("state", "up") != "up":
            console.print(f"[bold red]{name}: {_state(c)}[/]", soft_wrap=True)


def _state(c: dict) -> str:
    """A process's state in plain words: up, down (and when it is tried again), gave up."""
    state = str(c.get("state", "up"))
    if state == "down" and c.get("retry_at") is not None:
        left = max(0.0, float(c["retry_at"]) - time.time())
        state = f"down (exit {c.get('last_exit')}; restart in {left:.0f}s)"
    elif state == "gave up":
        state = f"GAVE UP after {c.get('failures', 1) - 1} failed restarts: {c.get('last_error')}"
    return state


def init() -> None:
    """One-shot set-up (compose's `init`): create the topic, run the migrations."""
    from infra.init import run_init

    run_init()


def write_env() -> None:
    """Write .env next to compose.yml with random passwords (never overwrites one).

    Optional: without one, `docker compose up` makes its own passwords on first start."""
    from infra.compose.secrets import DOTENV, write_dotenv

    done = write_dotenv()
    console.print(f"{DOTENV}: {'written (mode 600)' if done else 'exists, left as it is'}")


def test(ctx: typer.Context) -> None:
    """Install what is missing, start a private broker and database, run the whole suite."""
    from infra.containers.engine import ensure_installed
    from infra.kafka.server import ensure_jars
    from infra.local.system import postgres_bindir

    ensure_jars()
    postgres_bindir()
    ensure_installed()  # the compose tier: podman, runc, debootstrap, docker-compose
    home = Stack(suite_settings(), "test").home
    cleanup.end_processes_of(home)  # a killed earlier run may have left its broker behind
    env = {**os.environ, "FANOUT_STACK_HOME": str(home)}
    try:
        code = subprocess.call([sys.executable, "-m", "pytest", *ctx.args], cwd=ROOT, env=env)
    except KeyboardInterrupt:
        code = 130
    finally:
        cleanup.end_processes_of(home)
    if code == 5:
        console.print("pytest collected no tests: that is a failure, not a pass")
        code = 1
    raise typer.Exit(code)


def reset(
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete the platform's state (broker data, database); keeps the jar cache."""
    home = state_root() / "up"
    if read_status(home):
        console.print("fanout is running; `./fanout down` first")
        raise typer.Exit(1)
    if not yes:
        typer.confirm(f"delete {home}?", abort=True)
    shutil.rmtree(home, ignore_errors=True)
    console.print(f"deleted {home}")


def compose_check(
    show: Annotated[
        bool, typer.Option("--print", help="Also print the resolved configuration.")
    ] = False,
) -> None:
    """Validate compose.yml with docker-compose config (no engine needed); exit 1 if invalid.

    Uses Debian's docker-compose 1.29 (installed when missing). It predates the top-level
    `name:`, so that one key is passed as the project name (-p) instead.
    """
    result = docker_compose_config(quiet=not show)
    if show:
        typer.echo(result.stdout, nl=False)
    if result.returncode != 0:
        typer.echo(result.stderr, err=True, nl=False)
        typer.echo(f"{COMPOSE.name}: INVALID", err=True)
        raise typer.Exit(1)
    typer.echo(f"{COMPOSE.name}: valid")
