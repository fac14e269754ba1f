"""A real `./fanout up --infra-only` in its own process, state folder and ports: the
supervisor that owns (and so alone can reap and restart) its broker and PostgreSQL. Tests
SIGKILL those by the PIDs its status file names and watch it bring them back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.init import migrate
from infra.local import cleanup, proc
from infra.local.stack import Stack
from infra.paths import ROOT, cache_dir, state_root
from infra.polling import GiveUp, wait_for
from infra.settings import StackSettings, suite_settings
from tests.support.processes import free_port_block

START_TIMEOUT_S = 240


@dataclass
class SupervisedStack:
    """``stack`` has the supervisor's ports and home (for URLs, specs and logs); its broker
    and database processes are the supervisor's children, never this process's."""

    stack: Stack
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> Path:
        return self.stack.home.parent / "up.out"

    @property
    def state_dir(self) -> Path:
        return self.stack.home.parent

    def status(self) -> dict[str, Any]:
        if self.process.poll() is not None:
            raise GiveUp(f"the supervisor exited with {self.process.returncode}:\n{self.tail()}")
        return dict(json.loads((self.stack.home / "supervisor.json").read_text()))

    def tail(self) -> str:
        return proc.tail(self.log, 60)

    def component(self, name: str) -> dict[str, Any]:
        return dict(self.status()["infra"][name])

    def kill(self, name: str) -> int:
        """SIGKILL a component's main process (the postmaster, the broker's JVM)."""
        pid = self.component(name)["pid"]
        assert pid, f"{name} has no running process: {self.component(name)}"
        os.kill(int(pid), signal.SIGKILL)
        return int(pid)

    def wait_component(
        self, name: str, ok: Callable[[dict[str, Any]], bool], what: str, timeout: float
    ) -> dict[str, Any]:
        """Poll the status file until ``name``'s entry satisfies ``ok``; return that entry."""

        def probe() -> dict[str, Any] | None:
            c = self.component(name)
            return c if ok(c) else None

        found = wait_for(probe, timeout=timeout, what=what, interval=0.05, detail=self.tail)
        assert found is not None
        return found

    def wait_state(self, name: str, states: tuple[str, ...], timeout: float) -> dict[str, Any]:
        what = f"the supervisor's status to show {name} {' or '.join(states)}"
        return self.wait_component(name, lambda c: c["state"] in states, what, timeout)

    def wait_back(self, name: str, restarts: int, timeout: float) -> dict[str, Any]:
        """``name`` restarted ``restarts`` times in all, up, with a live PID."""

        def back(c: dict[str, Any]) -> bool:
            return c["state"] == "up" and c["restarts"] == restarts and bool(c["pid"])

        return self.wait_component(name, back, f"{name} back up (restart {restarts})", timeout)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`./fanout ARGS` as an operator runs it against this stack."""
        env = {**os.environ, "FANOUT_STATE_DIR": str(self.state_dir), "COLUMNS": "200"}
        argv = [sys.executable, "-m", "infra.cli", *args]
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    def stop(self) -> None:
        """What `./fanout down` does: SIGTERM the supervisor, which stops all in order."""
        code = proc.stop(self.process, timeout=90)
        left = cleanup.end_processes_of(self.stack.home)
        assert code == 0 and not left, f"supervisor exit {code}, left {left}:\n{self.tail()}"


def not_a_zombie(pid: int) -> bool:
    """The PID is gone, or at least not a zombie (its parent reaped it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _settings() -> StackSettings:
    suite = suite_settings()
    return StackSettings(
        kafka_port=free_port_block(suite.kafka_port + 200, 2),
        pg_port=free_port_block(suite.pg_port + 200, 1),
        web_port=free_port_block(suite.web_port + 200, 3),
    )


def _supervisor_env(settings: StackSettings, state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FANOUT_", "DATABASE_URL"))}
    return {
        **env,
        "FANOUT_STACK_HOME": os.environ.get("FANOUT_STACK_HOME", ""),  # the run's cleanup marker
        "FANOUT_STATE_DIR": str(state),
        "FANOUT_KAFKA_PORT": str(settings.kafka_port),
        "FANOUT_PG_PORT": str(settings.pg_port),
        "FANOUT_WEB_PORT": str(settings.web_port),
        **extra,
    }


def start_supervised(name: str = "supervised", **env: str) -> SupervisedStack:
    """`./fanout up --infra-only` on a fresh state folder (the jar cache shared), migrated;
    ``env``: more of the supervisor's environment (FANOUT_RESTART_*)."""
    settings, state = _settings(), state_root() / name
    cleanup.end_processes_of(state / "up")  # a killed earlier run's leftovers
    subprocess.run(["rm", "-rf", str(state)], check=True)
    state.mkdir(parents=True)
    (state / "cache").symlink_to(cache_dir())
    marker = os.environ.get("FANOUT_STACK_HOME")
    stack = Stack(settings, f"{name}/up")  # sets FANOUT_STACK_HOME for children: put it back
    if marker is None:
        os.environ.pop("FANOUT_STACK_HOME", None)
    else:
        os.environ["FANOUT_STACK_HOME"] = marker
    argv = [sys.executable, "-m", "infra.cli", "up", "--infra-only"]
    with open(state / "up.out", "ab") as out:
        process = subprocess.Popen(
            argv, cwd=ROOT, env=_supervisor_env(settings, state, **env), stdout=out, stderr=out,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    sup = SupervisedStack(stack, process)
    try:
        wait_for(
            lambda: "infra" in sup.status() and sup.status()["infra"],
            timeout=START_TIMEOUT_S,
            what="`./fanout up --infra-only` to be up",
            interval=0.5,
            detail=sup.tail,
        )
        migrate(stack.database_url)
    except BaseException:
        sup.stop()
        raise
    return sup


def since(t0: float) -> float:
    return time.monotonic() - t0
