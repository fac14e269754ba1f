"""The compose tier's stack: compose.yml brought up by docker-compose in podman, with local
stand-ins of the third-party images, on ports and passwords of its own (see infra/containers)."""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra.compose.tier import ComposeProject, HealthRunner, project_name
from infra.containers.engine import EngineError, Podman, PodmanService, engines
from infra.containers.images import Images
from infra.polling import GiveUp, wait_for
from infra.settings import ComposeTierSettings
from shared.secret_files import read_secret

INFRA = ("kafka", "postgres")
LONG_RUNNING = ("publisher", "analytics", "billing", "audit")
SERVICES = ("analytics", "billing", "audit")
TOPIC = "multi-app-events"


def tier_variables(s: ComposeTierSettings) -> dict[str, str]:
    """compose.yml's variables for the tier: loopback and private ports. No password: as on a
    fresh clone with no .env, the `secrets` service makes them (new ones each run: `down -v`)."""
    return {
        "BIND_ADDRESS": "127.0.0.1",
        "KAFKA_PUBLISHED_PORT": str(s.kafka_port),
        "POSTGRES_PUBLISHED_PORT": str(s.pg_port),
        "PUBLISHER_WEB_PORT": str(s.web_port - 1),
        "ANALYTICS_WEB_PORT": str(s.web_port),
        "BILLING_WEB_PORT": str(s.web_port + 1),
        "AUDIT_WEB_PORT": str(s.web_port + 2),
    }


@dataclass
class Tier:
    project: ComposeProject
    health: HealthRunner
    settings: ComposeTierSettings
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.settings.kafka_port}"

    def secret(self, name: str) -> str:
        """A password the `secrets` service stored, read from its volume on this host."""
        volume = f"{self.project.name}_secret-{name}"
        found = self.project.podman.run("volume", "inspect", "--format", "{{.Mountpoint}}", volume)
        return read_secret(Path(found.stdout.strip()) / "password")

    @property
    def admin_url(self) -> str:
        password = self.secret("postgres")
        return f"postgresql://postgres:{password}@127.0.0.1:{self.settings.pg_port}/fanout"

    @property
    def web_ports(self) -> dict[str, int]:
        v = self.project.variables
        return {name: int(v[f"{name.upper()}_WEB_PORT"]) for name in LONG_RUNNING}

    def state(self, service: str) -> dict:
        return dict(self.project.container(service)["State"])

    def health_status(self, service: str) -> str:
        state = self.state(service)
        health = state.get("Health") or state.get("Healthcheck") or {}
        return str(health.get("Status", ""))

    def wait_healthy(self, services: tuple[str, ...], timeout: float = 240) -> None:
        def all_healthy() -> bool:
            for name in services:
                if self.state(name).get("Status") == "exited":
                    raise GiveUp(f"{name} exited:\n{self.logs(name)}")
            return all(self.health_status(n) == "healthy" for n in services)

        wait_for(
            all_healthy,
            timeout=timeout,
            what=f"{', '.join(services)} to become healthy",
            interval=1.0,
            detail=lambda: (
                {n: self.health_status(n) for n in services}.__repr__()
                + f"\nhealthcheck errors: {self.health.errors[-3:]}"
            ),
        )

    def logs(self, service: str, lines: int | None = 40) -> str:
        """The container's output: its last ``lines`` lines, or all of it (None)."""
        cid = self.project.container(service)["Id"]
        tail = ["--tail", str(lines)] if lines is not None else []
        out = self.project.podman.run("logs", *tail, cid, check=False)
        return out.stdout + out.stderr

    def get(self, service: str, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.web_ports[service]}{path}"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read()

    def health_json(self, service: str) -> dict:
        return dict(json.loads(self.get(service, "/health")[1]))


def _say(message: str) -> None:
    print(f"compose tier: {message}", file=sys.stderr, flush=True)


def engine(home: Path) -> tuple[Podman, Podman, PodmanService]:
    """The machine-wide image store, this checkout's engine, and its API service."""
    store, podman = engines()
    return store, podman, PodmanService(podman, project_name(), home / "podman-api.log")


def _failure(project: ComposeProject, home: Path, exc: EngineError) -> EngineError:
    try:
        described = project.describe()
    except EngineError as unreadable:
        described = f"(the containers could not be described: {unreadable})"
    (home / "containers.log").write_text(described)
    return EngineError(
        f"the compose tier could not run compose.yml in podman: {exc}\n"
        f"(logs: {home}/compose.log, {home}/containers.log, {project.api.log})\n"
        f"{described[-6000:]}"
    )


@contextmanager
def compose_tier(home: Path) -> Iterator[Tier]:
    """Engine, stand-in images, a clean project, healthchecks, `up -d --build`; afterwards
    `down -v` and anything left removed, the API service stopped. Failures say what failed:
    the tier never turns into a skip."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "compose.log").unlink(missing_ok=True)
    started = time.monotonic()
    store, podman, api = engine(home)
    settings = ComposeTierSettings()
    project = ComposeProject(podman, api, project_name(), tier_variables(settings), home)
    health: HealthRunner | None = None
    try:
        api.start()
        Images(store).ensure_all()
        project.purge()  # a killed earlier run's containers, volumes and network
        images_ready = time.monotonic()
        health = HealthRunner(podman, project.name).start()
        project.compose("up", "-d", "--build", timeout=1800)
        timings = {"images": images_ready - started, "up": time.monotonic() - images_ready}
        _say(f"stand-ins ready in {timings['images']:.0f}s, `up --build` in {timings['up']:.0f}s")
        (home / "timings.json").write_text(json.dumps(timings))  # for the README's numbers
        yield Tier(project, health, settings, timings)
    except EngineError as exc:
        raise _failure(project, home, exc) from exc
    finally:
        if health is not None:
            health.stop()
        project.purge()
        podman.run("image", "prune", "--force", check=False)  # fanout:latest of earlier runs
        api.stop()
        _say(f"tier done in {time.monotonic() - started:.0f}s")
