"""Run the real service processes in tests, with compose.yml's commands and environment
(the same path `./fanout up` takes), pointed at a test's own topic and consumer group."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from infra import proc
from infra.stack import Stack
from infra.supervisor import Supervisor
from shared.polling import GiveUp, wait_for

SERVICES = ("analytics", "billing", "audit")


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    sup: Supervisor
    process: subprocess.Popen[bytes] | None = None
    full_env: dict[str, str] = field(default_factory=dict)  # as last started
    exits: list[int] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.full_env["WEB_PORT"])

    @property
    def log(self) -> str:
        return proc.tail(self.sup.stack.home / "logs" / f"{self.name}.log", 60)

    def health(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
            return json.loads(r.read())

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
        self.process = self.sup.spawn(spec)
        return self

    def wait_assigned(self, partitions: int, timeout: float = 60) -> None:
        """Ready: the group gave this process its partitions and their start offsets are known."""

        def assigned() -> bool:
            self.check_alive()
            return len(self.health()["positioned"]) == partitions

        wait_for(
            assigned,
            timeout=timeout,
            what=f"{self.name} to own {partitions} partitions",
            interval=0.2,
            detail=lambda: self.log,
        )

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise GiveUp(f"{self.name} exited with {self.process.returncode}:\n{self.log}")

    def wait_exit(self, timeout: float = 60) -> int:
        assert self.process is not None
        code = wait_for(
            lambda: self.process.poll() is not None and [self.process.returncode],
            timeout=timeout,
            what=f"{self.name} to exit",
            detail=lambda: self.log,
        )[0]
        self.exits.append(code)
        return code

    def stop(self) -> int:
        assert self.process is not None
        code = proc.stop(self.process)
        self.exits.append(code)
        return code


@contextmanager
def running_services(
    stack: Stack, topic: str, names: tuple[str, ...] = SERVICES, **overrides: str
) -> Iterator[dict[str, ServiceProcess]]:
    """Start ``names`` on ``topic``, each in a consumer group unique to this test."""
    sup = Supervisor(stack)
    group_suffix = topic.rsplit("-", 1)[-1]
    procs = {
        n: ServiceProcess(
            n, {"EVENTS_TOPIC": topic, "CONSUMER_GROUP": f"{n}-{group_suffix}", **overrides}, sup
        )
        for n in names
    }
    try:
        for p in procs.values():
            p.start()
        yield procs
    finally:
        for p in procs.values():
            if p.process is not None and p.process.poll() is None:
                proc.stop(p.process)
