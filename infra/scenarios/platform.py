"""The live platform as a scenario sees it: where the broker, the topic, the database and each
service are, and the platform's own controls — the crash switch, the supervisor (stop a
service and hold it, let it restart), publishing. Under `./fanout up` the supervisor's status
file says where everything is; without one (`docker compose up`) there is no process control,
and a scenario that needs it says which `docker compose` command does the step.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra.kafka.credentials import sign_in_operator
from infra.local.instances import scale_path, store_path
from infra.local.proc import pid_alive
from infra.local.status_file import held_path, read_status, signal_named
from infra.paths import state_root
from infra.polling import async_wait_for
from infra.postgres.server import PostgresServer
from infra.scenarios.engine import CannotRun
from infra.settings import ScenarioSettings
from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from services.registry import SERVICES
from shared.events import Event
from shared.local_only import action_request, crash_request
from shared.schema import READER_ROLE
from shared.secret_files import derived_password

POLL_S = 0.2


@dataclass(frozen=True)
class ServiceAt:
    name: str
    group: str
    port: int | None = None  # its dashboard (the crash switch); None: not known here
    pid: int | None = None


@dataclass(frozen=True)
class Platform:
    bootstrap: str
    topic: str
    reader_url: str | None
    services: dict[str, ServiceAt]
    home: Path | None = None  # the supervisor's folder; None: no process control here
    admin_url: str | None = None  # the database's admin role: only to add or drop a rule

    def need_processes(self, compose_command: str) -> Path:
        """The supervisor's folder, or CannotRun naming the compose command for the step."""
        if self.home is None:
            raise CannotRun(
                "this step needs process control, which `docker compose up` does not offer "
                f"(no `./fanout up` supervisor here); the step is: {compose_command}"
            )
        return self.home

    def need_dashboard(self, name: str, step: str) -> int:
        """``name``'s dashboard port (its switches), or CannotRun naming the step by hand."""
        port = self.services[name].port if name in self.services else None
        if port is None:
            raise CannotRun(
                f"this step needs {name}'s dashboard address, which only `./fanout up`'s "
                f"supervisor tells here; the step is: {step}"
            )
        return port

    def need_database(self) -> str:
        if self.reader_url is None:
            raise CannotRun("no database to measure in: set READER_DATABASE_URL")
        return self.reader_url

    def need_admin(self, why: str) -> str:
        if self.admin_url is None:
            raise CannotRun(f"{why} needs the database's admin role: set DATABASE_URL")
        return self.admin_url

    def groups(self, *names: str) -> dict[str, str]:
        return {n: self.services[n].group for n in names}

    def hold(self, name: str) -> None:
        """The supervisor stops restarting ``name`` until release()."""
        path = held_path(self.need_processes(f"docker compose stop {name}"), name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_request(path, "")

    def release(self, name: str) -> None:
        assert self.home is not None
        held_path(self.home, name).unlink(missing_ok=True)

    def scale(self, name: str, count: int, compose_command: str) -> None:
        """Ask the supervisor for ``count`` instances of ``name`` in its group."""
        path = scale_path(self.need_processes(compose_command), name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if count > 1:
            write_request(path, str(count))
        else:
            path.unlink(missing_ok=True)

    async def redeploy(self, name: str, store: str | None) -> int:
        """Restart ``name`` with the offset strategy ``store`` (None: compose.yml's) as a
        redeploy does: a clean stop (its last batch committed), a start by the supervisor;
        returns the new pid once it reads its partitions with that strategy."""
        path = store_path(
            self.need_processes(f"{name.upper()}_OFFSET_STORE=... docker compose up -d {name}"),
            name,
        )
        if store is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_request(path, store)
        old = self.current(name).pid
        await self.stop(name)
        new = await self.wait_restarted(name, old or 0)
        await self.wait_reading(name, store or "kafka")
        return new

    async def wait_reading(self, name: str, store: str, timeout: float = 90) -> None:
        """Until ``name``'s /health says ``store`` and every assigned partition positioned."""

        async def reading() -> bool:
            try:
                h = await self.health(name)
            except OSError:  # its dashboard is not up yet
                return False
            return (
                h.get("offset_store") == store
                and bool(h["assigned"])
                and (h["assigned"] == h["positioned"])
            )

        await async_wait_for(
            reading, timeout=timeout, what=f"{name} to read with OFFSET_STORE={store}",
            interval=POLL_S,
        )  # fmt: skip

    def current(self, name: str) -> ServiceAt:
        """``name`` as the supervisor's status file shows it now (its pid changes on restart)."""
        assert self.home is not None
        st = (read_status(self.home) or {}).get("services", {}).get(name, {})
        return ServiceAt(name, st.get("group", name), st.get("port"), st.get("pid"))

    async def crash(self, name: str) -> None:
        """Arm ``name``'s crash switch, as `./fanout crash` does."""
        await self._send(crash_request(self._port(name)))

    async def switch(self, name: str, action: str) -> None:
        """``pause`` or ``resume`` ``name``'s fetching (its process keeps running)."""
        await self._send(action_request(self._port(name), action))

    async def health(self, name: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self._port(name)}/health"
        return dict(json.loads(await self._send(urllib.request.Request(url))))

    def _port(self, name: str) -> int:
        port = self.current(name).port
        assert port is not None, f"{name} has no dashboard port"
        return int(port)

    async def _send(self, request: urllib.request.Request) -> bytes:
        def send() -> bytes:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return bytes(answer.read())

        return await asyncio.to_thread(send)

    async def stop(self, name: str) -> None:
        """SIGTERM: ``name`` finishes its batch, commits it and leaves its group."""
        assert self.home is not None
        entry = (read_status(self.home) or {}).get("services", {}).get(name, {})
        if not signal_named(entry, signal.SIGTERM):
            raise CannotRun(f"{name} is not a process the supervisor started now: not signalled")
        await self.wait_dead(int(entry["pid"]), 60)

    async def wait_dead(self, pid: int, timeout: float) -> None:
        async def dead() -> bool:
            return not pid_alive(pid)

        await async_wait_for(dead, timeout=timeout, what=f"process {pid} to exit", interval=POLL_S)

    async def wait_restarted(self, name: str, old_pid: int, timeout: float = 60) -> int:
        async def new_pid() -> bool:
            pid = self.current(name).pid
            return pid is not None and pid != old_pid and pid_alive(pid)

        await async_wait_for(
            new_pid, timeout=timeout, what=f"the supervisor to restart {name}", interval=POLL_S
        )
        return int(self.current(name).pid or 0)

    async def publish(self, count: int, rate: float = 0) -> int:
        """``count`` events as the publisher writes them (acks=all), ``rate`` a second (0: at
        once); returns how many the broker acknowledged."""
        producer = make_producer(self.bootstrap, "all")
        await producer.start()
        try:
            result = await publish(producer, self.topic, events(count), rate=rate)
        finally:
            await producer.stop()
        return result.acknowledged

    async def publish_list(self, batch: list[Event], keyed: bool = True) -> list[tuple[int, int]]:
        """These events, in order, keyed by user (else with no key: the partitioner spreads
        them); where each landed (partition, offset)."""
        producer = make_producer(self.bootstrap, "all")
        await producer.start()
        try:
            sent = [
                await producer.send(
                    self.topic, e.to_json(), key=(e.user_id or "").encode() if keyed else None
                )
                for e in batch
            ]
            return [((m := await f).partition, m.offset) for f in sent]
        finally:
            await producer.stop()


def locate(settings: ScenarioSettings) -> Platform:
    """The running `./fanout up` (its status file), else the variables compose.yml sets."""
    where = settings.supervisor_status
    home = where.parent if where is not None else state_root() / "up"
    status = read_status(home)
    if status is None:
        return Platform(
            settings.kafka_bootstrap_servers or f"127.0.0.1:{settings.kafka_port}",
            settings.events_topic or settings.topic,
            settings.reader_url,
            {n: ServiceAt(n, settings.consumer_groups.get(n, n)) for n in SERVICES},
            admin_url=settings.database_url,
        )
    # A scenario is the operator's (it resets groups, crashes services): on the local stack it
    # signs in as that stack's operator, like its admin URL below; under compose it keeps the
    # publisher's principal, and a scenario needing more is refused by the broker.
    sign_in_operator(home)
    found = {n: s for n, s in status.get("services", {}).items() if n in SERVICES}
    services = {
        n: ServiceAt(n, s.get("group", n), s.get("port"), s.get("pid")) for n, s in found.items()
    }
    topics = {s.get("topic") for s in found.values()} - {None}
    admin_url = settings.database_url or local_admin_url(home, status)
    return Platform(
        settings.kafka_bootstrap_servers or status["kafka"],
        settings.events_topic or (topics.pop() if len(topics) == 1 else status["topic"]),
        settings.reader_url or local_reader_url(status, admin_url),
        services,
        home,
        admin_url,
    )


def local_reader_url(status: dict[str, Any], admin_url: str | None) -> str:
    """The read-only role on `./fanout up`'s own cluster: its password derived from the
    superuser's (so readable only by whoever may read that one)."""
    where = urlsplit(status["database"])
    password = (
        derived_password(urlsplit(admin_url).password or "", READER_ROLE) if admin_url else ""
    )
    return f"postgresql://{READER_ROLE}:{password}@{where.hostname}:{where.port}{where.path}"


def local_admin_url(home: Path, status: dict[str, Any]) -> str | None:
    """`./fanout up`'s own cluster's admin URL (its password file, where the status file says
    the cluster lives); None for an external database, whose admin URL only DATABASE_URL can
    give, or for a reader that may not read root's file."""
    folder = Path(status.get("postgres_home") or home / "postgres")
    server = PostgresServer(folder, urlsplit(status["database"]).port or 5432)
    try:
        return server.url if server.password_file.exists() else None
    except PermissionError:  # root's file, and we run as the services' user
        return None


def write_request(path: Path, text: str) -> None:
    """A request beside the status file. Its folder is the services' account's and this may
    run as root (the supervisor runs the overview's scenarios): never through a planted link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(text)
