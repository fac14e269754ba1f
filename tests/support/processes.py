"""The real service processes in tests, with compose.yml's commands and environment (the path
`./fanout up` takes), pointed at a test's own topic and consumer group: start, stop, SIGKILL,
SIGSTOP, extra instances in the same group, and their logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from infra.local import proc
from infra.local.stack import Stack
from infra.local.supervisor import Supervisor
from infra.polling import GiveUp, wait_for
from shared.consumer import CRASH_EXIT_CODE
from tests.support.catalog import SERVICES
from tests.support.web import health

T = TypeVar("T")
# The broker's minimum session timeout: a SIGKILLed member leaves the group in 6 s, not 10.
FAST = {"SESSION_TIMEOUT_MS": "6000"}


@dataclass
class ServiceProcess:
    """One process of a service; ``label`` names a further instance (``<name>-<label>.log``)."""

    name: str
    env: dict[str, str]
    sup: Supervisor
    label: str | None = None
    process: subprocess.Popen[bytes] | None = None
    full_env: dict[str, str] = field(default_factory=dict)  # as last started
    exits: list[int] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.full_env["WEB_PORT"])

    @property
    def group(self) -> str:
        return self.env["CONSUMER_GROUP"]

    @property
    def log_path(self) -> Path:
        stem = self.name if self.label is None else f"{self.name}-{self.label}"
        return self.sup.stack.home / "logs" / f"{stem}.log"

    @property
    def log(self) -> str:
        return proc.tail(self.log_path, 60)

    def start(self, **overrides: str | None) -> ServiceProcess:
        """Start (again); an override of None removes that variable."""
        spec = next(s for s in self.sup.specs() if s.name == self.name)
        spec.env.update(self.env)
        for key, value in overrides.items():
            if value is None:
                spec.env.pop(key, None)
                self.env.pop(key, None)
            else:
                spec.env[key] = value
        self.full_env = spec.env
        env = {**self.sup.stack.env(), **spec.env}
        self.process = proc.spawn(spec.argv, self.log_path, env=env, **self.sup.run_as())
        return self

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise GiveUp(f"{self.name} exited with {self.process.returncode}:\n{self.log}")

    def alive_and(self, probe: Callable[[], T]) -> Callable[[], T]:
        """A wait_for probe that gives up at once when this process has died."""

        def checked() -> T:
            self.check_alive()
            return probe()

        return checked

    def wait_assigned(self, partitions: int, timeout: float = 60) -> None:
        """Ready: the group gave this process its partitions and their start offsets are known."""
        wait_for(
            self.alive_and(lambda: len(health(self.port)["positioned"]) == partitions),
            timeout=timeout,
            what=f"{self.name} to own {partitions} partitions",
            interval=0.2,
            detail=lambda: self.log,
        )

    def wait_exit(self, timeout: float = 60) -> int:
        process = self.process
        assert process is not None

        def exited() -> list[int]:
            return [] if process.poll() is None else [process.returncode]

        code = wait_for(
            exited,
            timeout=timeout,
            what=f"{self.name} to exit",
            detail=lambda: self.log,
        )[0]
        self.exits.append(code)
        return code

    def wait_crashed(self, timeout: float = 60) -> None:
        """The crash switch fired: the process died right after a batch's DB commit."""
        code = self.wait_exit(timeout)
        assert code == CRASH_EXIT_CODE, f"{self.name} exited with {code}:\n{self.log}"

    def stop(self) -> int:
        """SIGTERM (a clean stop); returns the exit code."""
        assert self.process is not None
        code = proc.stop(self.process)
        self.exits.append(code)
        return code

    def kill(self) -> None:
        """SIGKILL a live process (a stopped one too)."""
        assert self.process is not None
        self.check_alive()
        proc.kill(self.process)
        self.exits.append(self.process.returncode)
        assert self.process.returncode == -signal.SIGKILL

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def twin(self, label: str = "2") -> ServiceProcess:
        """Another instance of this service in this consumer group, on its own web port."""
        return ServiceProcess(
            self.name, {**self.env, "WEB_PORT": str(free_port())}, self.sup, label=label
        )


def groups_of(procs: Mapping[str, ServiceProcess]) -> dict[str, str]:
    return {name: p.group for name, p in procs.items()}


@contextmanager
def stopped_at_exit(*instances: ServiceProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for i in instances:
            if i.process is not None and i.process.poll() is None:
                proc.stop(i.process)


@contextmanager
def running_services(
    stack: Stack, topic: str, names: tuple[str, ...] = SERVICES, **overrides: str
) -> Iterator[dict[str, ServiceProcess]]:
    """Start ``names`` on ``topic``, each in a consumer group unique to this test
    (``<service>-<the topic's unique suffix>``)."""
    sup = Supervisor(stack)
    # The operator makes their dead-letter and redrive topics and their ACLs on this topic.
    stack.provision(topic, bootstrap=overrides.get("KAFKA_BOOTSTRAP_SERVERS"))
    suffix = topic.rsplit("-", 1)[-1]
    procs = {
        n: ServiceProcess(
            n, {"EVENTS_TOPIC": topic, "CONSUMER_GROUP": f"{n}-{suffix}", **overrides}, sup
        )
        for n in names
    }
    with stopped_at_exit(*procs.values()):
        for p in procs.values():
            p.start()
        yield procs


def running(
    stack: Stack, topic: str, names: tuple[str, ...] = SERVICES, **env: str
) -> AbstractContextManager[dict[str, ServiceProcess]]:
    """running_services with the fault suite's short session timeout."""
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
