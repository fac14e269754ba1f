"""Runs the whole platform in the foreground, like ``docker compose up``.

Starts broker and database, runs compose.yml's one-shot ``init``, then its long-running
services, restarting any that exit (restart: unless-stopped). SIGINT/SIGTERM stops services
first, then the broker, then the database, so nothing is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from infra import proc
from infra.compose import LOCAL_ROLE_PASSWORDS, ServiceSpec, load_specs, local_variables
from infra.stack import Stack, redacted

RESTART_BACKOFF_S = 2.0


@dataclass
class Running:
    spec: ServiceSpec
    process: subprocess.Popen[bytes]
    restarts: int = 0
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.running: dict[str, Running] = {}
        self.stopping = False

    @property
    def pidfile(self) -> Path:
        return self.stack.home / "supervisor.json"

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
        return load_specs({**LOCAL_ROLE_PASSWORDS, **os.environ, **variables})

    def spawn(self, spec: ServiceSpec) -> subprocess.Popen[bytes]:
        # compose's secret files do not exist here: the URLs carry every password, and a URL
        # without one (an external database that trusts us) means none, not "read the file".
        given = {k: v for k, v in spec.env.items() if not k.endswith("_PASSWORD_FILE")}
        env = {**self.stack.env(), **given}
        return proc.spawn(spec.argv, self.stack.home / "logs" / f"{spec.name}.log", env=env)

    def run_one_shot(self, spec: ServiceSpec) -> None:
        code = self.spawn(spec).wait()
        if code != 0:
            log = self.stack.home / "logs" / f"{spec.name}.log"
            raise RuntimeError(f"{spec.name} failed ({code}):\n{proc.tail(log)}")

    def write_status(self) -> None:
        services = {
            name: {"pid": r.process.pid, "port": r.spec.web_port, "restarts": r.restarts}
            for name, r in self.running.items()
        }
        status = {
            "pid": os.getpid(),
            "kafka": self.stack.bootstrap,
            "kafka_pids": [n.process.pid for n in self.stack.kafka.members if n.process],
            "database": redacted(self.stack.database_url),
            "postgres_pid": self.stack.postgres.process.pid
            if self.stack.postgres and self.stack.postgres.process
            else None,
            "topic": self.stack.settings.topic,
            "services": services,
        }
        write_atomically(self.pidfile, json.dumps(status, indent=2))

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        self.stopping = True
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def run(self, with_services: bool = True, on_ready: object = None) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        self.stack.home.mkdir(parents=True, exist_ok=True)
        write_atomically(self.pidfile, json.dumps({"pid": os.getpid(), "starting": True}))
        try:
            self.stack.start_infra()
            self.write_status()
            specs = self.specs() if with_services else []
            for spec in specs:
                if spec.one_shot:
                    self.run_one_shot(spec)
                else:
                    self.running[spec.name] = Running(spec, self.spawn(spec))
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
            for name, r in self.running.items():
                if (
                    r.process.poll() is not None
                    and time.monotonic() - r.started > RESTART_BACKOFF_S
                ):
                    self.running[name] = Running(r.spec, self.spawn(r.spec), r.restarts + 1)
                    self.write_status()
            time.sleep(0.5)  # supervision tick

    def shutdown(self) -> None:
        for r in self.running.values():
            if r.process.poll() is None:
                r.process.send_signal(signal.SIGTERM)
        for r in self.running.values():
            proc.stop(r.process, timeout=20)
        self.stack.stop_infra()
        self.pidfile.unlink(missing_ok=True)


def write_atomically(path: Path, text: str) -> None:
    """Readers (``up -d``, ``status``, ``down``) poll this file: they must never see it half
    written. A rename within one folder replaces it in one step."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_status(home: Path) -> dict | None:
    """The running supervisor's status, or None when none runs (a stale file is removed)."""
    path = home / "supervisor.json"
    if not path.exists():
        return None
    status = json.loads(path.read_text())
    if not proc.pid_alive(int(status["pid"])):
        path.unlink(missing_ok=True)
        return None
    return status
