"""Runs the whole platform in the foreground, like ``docker compose up``.

Starts broker and database, runs compose.yml's one-shot ``init``, then its long-running
services. It supervises every process it started — broker node(s), the PostgreSQL postmaster,
the services — by compose.yml's ``restart:`` policy: an exit is noticed and reaped (a killed
child never stays a zombie, whose PID would keep PostgreSQL's lock files alive), and the
process is restarted with backoff on the same data (infra/local/restarts.py); every restart is
logged and counted in the status file (``./fanout status``, the overview). A scenario may
ask, beside the status file, that a service not be restarted for now (``held/<name>``: it stops
a service to reset its group's offsets, which the broker allows only while the group has no
member), that further instances of it run in its group (``scale/<name>``) or that its next
start use the other offset strategy (``store/<name>``; both infra/local/instances.py).
SIGINT/SIGTERM stops services first, then the broker, then the database, so nothing is left
behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from infra.compose.spec import ServiceSpec, infra_policies, load_specs, local_variables
from infra.kafka.server import KafkaNode
from infra.local import instances, proc, status_view
from infra.local.restarts import Backoff, Restarts
from infra.local.scenario_runs import ScenarioRuns
from infra.local.stack import Stack
from infra.local.status_file import held_path, write_atomically
from infra.local.users import owned_folder
from shared.supervision import SCENARIO_REQUESTS, SCENARIO_RUNS

TICK_S = 0.5


@dataclass
class Running:
    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    record: Restarts
    instance_of: str | None = None  # a further instance of this service, in its group

    @property
    def restarts(self) -> int:
        return self.record.restarts


@dataclass
class Supervised:
    """One process kept running: how to find it, and how to start it again (blocking until
    it is ready; raising when it cannot be)."""

    record: Restarts
    process: Callable[[], subprocess.Popen[bytes] | None]
    start: Callable[[], None]


class Supervisor:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.running: dict[str, Running] = {}
        self.infra: dict[str, Supervised] = {}
        self.backoff = Backoff.from_env()
        self.stopping = False
        self.scenario_runs: ScenarioRuns | None = None  # the overview's Runs (request_folders)

    @property
    def pidfile(self) -> Path:
        return self.stack.home / "supervisor.json"

    def held(self, name: str) -> bool:
        return held_path(self.pidfile.parent, name).exists()

    def specs(self) -> list[ServiceSpec]:
        db = urlsplit(self.stack.database_url)
        variables = local_variables(
            self.stack.bootstrap,
            db.hostname or "127.0.0.1",
            db.port or 5432,
            self.stack.settings.web_port,
            self.stack.settings.partitions,
            self.stack.settings.replication,
            admin_password=db.password or "",
        )
        variables |= self.stack.kafka_variables()  # each process's own broker password
        return load_specs({**os.environ, **variables})

    def spawn(self, spec: ServiceSpec) -> subprocess.Popen[bytes]:
        # compose's secret files do not exist here: the URLs carry every password, and a URL
        # without one (an external database that trusts us) means none, not "read the file".
        spec = instances.with_store(self.pidfile.parent, spec)
        given = {k: v for k, v in spec.env.items() if not k.endswith("_PASSWORD_FILE")}
        env = {**self.stack.env(), **given}
        log = self.stack.home / "logs" / f"{spec.name}.log"
        return proc.spawn(spec.argv, log, env=env, **self.run_as())

    def run_as(self) -> dict[str, Any]:
        """Popen arguments for a service: the stack's unprivileged account (infra/local/users.py),
        in a working folder of its own (faust keeps ``<name>-data`` in the working folder)."""
        account = self.stack.account
        cwd = owned_folder(self.stack.home / "run", account)
        return {"cwd": cwd, **(account.popen() if account is not None else {})}

    def request_folders(self) -> None:
        """``held/``, ``scale/`` and ``store/``, emptied (a scenario killed mid-run left them:
        start afresh) and the account's, so a scenario run by the publisher can write its
        requests."""
        home = self.pidfile.parent
        for requests in ("held", "scale", "store", SCENARIO_REQUESTS):
            shutil.rmtree(home / requests, ignore_errors=True)  # fd-based: safe
            owned_folder(home / requests, self.stack.account)
        shutil.rmtree(home / SCENARIO_RUNS, ignore_errors=True)
        (home / SCENARIO_RUNS).mkdir(mode=0o755)  # root's: the account reads, never writes
        self.scenario_runs = ScenarioRuns(home, self.stack.home)

    def run_one_shot(self, spec: ServiceSpec) -> None:
        code = self.spawn(spec).wait()
        if code != 0:
            log = self.stack.home / "logs" / f"{spec.name}.log"
            raise RuntimeError(f"{spec.name} failed ({code}):\n{proc.tail(log)}")

    def supervise_infra(self) -> None:
        """The broker node(s) and the local PostgreSQL, by compose.yml's kafka/postgres policy."""
        policies, kafka, pg = infra_policies(), self.stack.kafka, self.stack.postgres
        for node in kafka.members:
            name = "kafka" if len(kafka.members) == 1 else f"kafka-{node.node_id}"
            record = Restarts(name, policies["kafka"], self.backoff)
            self.infra[name] = Supervised(
                record, partial(_process_of, node), partial(kafka.restart_node, node)
            )
        if pg is not None:
            record = Restarts("postgres", policies["postgres"], self.backoff)
            self.infra["postgres"] = Supervised(record, lambda: pg.process, pg.restart)

    def supervised(self) -> list[Supervised]:
        """Infrastructure first: a service's restart is of little use without it."""
        services = [
            Supervised(r.record, partial(_process_of, r), partial(self.respawn, name))
            for name, r in self.running.items()
        ]
        return [*self.infra.values(), *services]

    def start(self, spec: ServiceSpec, instance_of: str | None = None) -> None:
        """A long-running service, supervised from now on by its restart policy."""
        record = Restarts(spec.name, spec.restart, self.backoff)
        self.running[spec.name] = Running(spec, self.spawn(spec), record, instance_of)

    def respawn(self, name: str) -> None:
        r = self.running[name]
        r.process = self.spawn(r.spec)

    def write_status(self) -> None:
        write_atomically(self.pidfile, json.dumps(status_view.of(self), indent=2))

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.stopping = True
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def run(self, with_services: bool = True, on_ready: object = None) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        self.stack.home.mkdir(parents=True, exist_ok=True)
        write_atomically(self.pidfile, json.dumps(status_view.starting()))
        self.request_folders()
        try:
            self.stack.start_infra()
            self.supervise_infra()
            self.write_status()
            for spec in self.specs() if with_services else []:
                if spec.one_shot:
                    self.run_one_shot(spec)
                else:
                    self.start(spec)
            self.write_status()
            if callable(on_ready):
                on_ready(self)
            self.watch()
        except KeyboardInterrupt:
            pass
        finally:
            self.shutdown()

    def watch(self) -> None:
        while not self.stopping:
            for c in self.supervised():
                if self.check(c):
                    self.write_status()
            if self.scale():
                self.write_status()
            if self.scenario_runs is not None:
                self.scenario_runs.tick()
            time.sleep(TICK_S)  # supervision tick

    def scale(self) -> bool:
        """Start or stop further instances of a service in its group, as many as
        ``scale/<name>`` beside the status file asks (a scenario's scale out and back);
        whether anything changed."""
        changed = False
        for name, r in list(self.running.items()):
            if r.instance_of is not None:
                continue
            want = instances.wanted(self.pidfile.parent, name)
            for spec in instances.missing(r.spec, want, self.running):
                self.start(spec, instance_of=name)
                changed = True
            for extra in instances.surplus(name, want, self.running):
                proc.stop(self.running.pop(extra).process)
                changed = True
        return changed

    def check(self, c: Supervised) -> bool:
        """One look at one process: notice (and reap) its exit, or restart it when due.
        Returns whether its state changed."""
        r, process = c.record, c.process()
        if r.state == "up":
            code = None if process is None else process.poll()  # poll() reaps the child
            if code is None:
                return False
            r.exited(code, time.monotonic())
            return True
        if not r.due(time.monotonic()) or self.held(r.name):
            return False  # a held service stays down, its restart due, until released
        r.starting()
        self.write_status()
        try:
            c.start()
        except Exception as exc:  # noqa: BLE001 - any failure to start is retried, with backoff
            r.start_failed(time.monotonic(), (str(exc) or repr(exc)).splitlines()[0][:300])
        else:
            r.started(time.monotonic())
        return True

    def shutdown(self) -> None:
        if self.scenario_runs is not None:
            self.scenario_runs.stop()
        for r in self.running.values():
            if r.process.poll() is None:
                r.process.send_signal(signal.SIGTERM)
        for r in self.running.values():
            proc.stop(r.process, timeout=20)
        self.stack.stop_infra()
        self.pidfile.unlink(missing_ok=True)


def _process_of(holder: KafkaNode | Running) -> subprocess.Popen[bytes] | None:
    return holder.process
