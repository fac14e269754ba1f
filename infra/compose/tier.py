"""compose.yml run for real: docker-compose against podman's Docker-compatible API.

One project per checkout (its name carries a hash of the repo's path), its own published
ports and passwords, healthchecks run by a loop of ours (podman 4.3 needs systemd timers for
them), and a clean slate first: whatever a killed earlier run left behind (containers,
volumes, network, the API service) is removed before anything starts.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from infra.compose.spec import COMPOSE, secret_variables
from infra.compose.v1 import compose_argv, for_compose_v1
from infra.containers.engine import EngineError, Podman, PodmanService
from infra.paths import ROOT

HEALTHY_RECHECK_S = 10.0  # a healthy container is checked again at about compose's interval
_FRACTION = re.compile(r"(\.\d{6})\d*")


def project_name() -> str:
    return "fanout-tier-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]


def parse_time(value: str) -> float:
    """podman's RFC 3339 times (nanoseconds, 'Z' or an offset) as a Unix timestamp."""
    value = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00")
    value = re.sub(r" [A-Z]{3,4}$", "", value)  # podman may append the zone's name
    return datetime.fromisoformat(value).timestamp()


@dataclass
class HealthRunner:
    """Runs each container's healthcheck: every 2 s while it is starting, then every 10 s.

    Records when the first successful check of each service began: the container cannot
    have been healthy before that moment, so it bounds what compose saw from below."""

    podman: Podman
    project: str
    interval: float = 2.0
    first_healthy: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _last: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> HealthRunner:
        self._thread = threading.Thread(target=self._loop, name="healthchecks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception as exc:  # noqa: BLE001 - reported by the tests, the loop goes on
                self.errors.append(repr(exc))
            self._stop.wait(self.interval)

    def check_once(self) -> None:
        listed = self.podman.run(
            "ps",
            "--filter",
            f"label=com.docker.compose.project={self.project}",
            "--format",
            "{{.ID}}\t{{.Labels}}\t{{.Status}}",
        ).stdout
        for line in listed.splitlines():
            cid, labels, status = line.split("\t")
            service = _label(labels, "com.docker.compose.service")
            due = time.monotonic() - self._last.get(cid, 0) >= HEALTHY_RECHECK_S
            if "(starting)" in status or ("(" in status and due):
                began = time.time()
                self._last[cid] = time.monotonic()
                ok = self.podman.run("healthcheck", "run", cid, check=False).returncode == 0
                if ok and service not in self.first_healthy:
                    self.first_healthy[service] = began


def _label(labels: str, key: str) -> str:
    match = re.search(rf"{re.escape(key)}:([^ \]]+)", labels)
    return match.group(1) if match else ""


@dataclass
class ComposeProject:
    podman: Podman
    api: PodmanService
    name: str
    variables: dict[str, str]
    home: Path

    def compose(self, *args: str, check: bool = True, timeout: float = 900) -> str:
        text, _ = for_compose_v1(COMPOSE.read_text())
        env_file = self.home / "empty.env"  # never a developer's .env: only our variables
        env_file.touch()
        argv = compose_argv(self.name, "--env-file", str(env_file), *args)
        unset = secret_variables() - set(self.variables)  # as on a fresh clone: none given
        env = {k: v for k, v in os.environ.items() if k not in unset}
        env.update(self.variables, DOCKER_HOST=self.api.docker_host)
        result = subprocess.run(
            argv, input=text, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
        )
        with (self.home / "compose.log").open("a") as log:
            log.write(f"$ docker-compose {' '.join(args)}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            raise EngineError(f"docker-compose {' '.join(args)} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def containers(self, service: str | None = None) -> list[dict]:
        filters = [f"label=com.docker.compose.project={self.name}"]
        if service:
            filters.append(f"label=com.docker.compose.service={service}")
        ids = self.podman.ids("container", *filters)
        if not ids:
            return []
        return list(json.loads(self.podman.run("inspect", *ids).stdout))

    def container(self, service: str) -> dict:
        found = self.containers(service)
        if len(found) != 1:
            raise AssertionError(f"{len(found)} containers for {service}, not 1")
        return found[0]

    def describe(self) -> str:
        """Each container's state and the tail of its log: what a failed run leaves to read."""
        parts = []
        for c in self.containers():
            state, name = c["State"], c["Name"]
            logs = self.podman.run("logs", "--tail", "30", c["Id"], check=False)
            parts.append(
                f"--- {name}: {state.get('Status')} (exit {state.get('ExitCode')}, "
                f"restarts {c.get('RestartCount')})\n{logs.stdout}{logs.stderr}"
            )
        return "\n".join(parts)

    def leftovers(self) -> dict[str, list[str]]:
        """Everything of this project still in the engine: containers, volumes, networks."""
        label = f"label=com.docker.compose.project={self.name}"
        networks = [n for n in self.podman.ids("network") if n.startswith(f"{self.name}_")]
        return {
            "containers": self.podman.ids("container", label),
            "volumes": self.podman.ids("volume", label),
            "networks": networks,
        }

    def purge(self) -> None:
        """``down -v``, then anything it could not remove (a killed run's leftovers)."""
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False)
        left = self.leftovers()
        if left["containers"]:
            self.podman.run("rm", "--force", "--volumes", *left["containers"], check=False)
        if left["volumes"]:
            self.podman.run("volume", "rm", "--force", *left["volumes"], check=False)
        for network in left["networks"]:
            self.podman.run("network", "rm", "--force", network, check=False)
