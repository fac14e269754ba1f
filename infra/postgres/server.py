"""A project-local PostgreSQL cluster from Debian's server binaries.

PostgreSQL refuses to run as root, so initdb and the server run as the ``postgres`` system
user that Debian's package creates; the cluster and its socket live in the state folder.
"""

from __future__ import annotations

import grp
import os
import pwd
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from infra import proc
from infra.system import postgres_bindir
from shared.polling import wait_for
from shared.schema import READER_ROLE

ADMIN_USER = "postgres"
ADMIN_PASSWORD = "postgres"  # dev-only superuser password, same as compose.yml
DATABASE = "fanout"


@dataclass
class PostgresServer:
    home: Path
    port: int = 55432
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.home = self.home.resolve()  # postgres runs with cwd=home: paths must be absolute

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{ADMIN_USER}:{ADMIN_PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def reader_url(self) -> str:
        """The read-only role the migrations create (dashboards, reconcile)."""
        return f"postgresql://{READER_ROLE}:{READER_ROLE}@127.0.0.1:{self.port}/{DATABASE}"

    def _as_postgres(self) -> dict[str, Any]:
        """Popen arguments that drop root to the postgres user (when we are root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, pwd.getpwnam("postgres").pw_uid, grp.getgrnam("postgres").gr_gid)

    def init(self) -> None:
        bindir = postgres_bindir()
        self.home.mkdir(parents=True, exist_ok=True)
        self._chown(self.home)
        if (self.data / "PG_VERSION").exists():
            return
        pwfile = self.home / "pwfile"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        self._chown(pwfile)
        try:
            subprocess.run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    ADMIN_USER,
                    f"--pwfile={pwfile}",
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                capture_output=True,
                cwd=self.home,
                **self._as_postgres(),  # type: ignore[arg-type]
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60.0) -> None:
        self.init()
        sock = self.home / "socket"
        sock.mkdir(exist_ok=True)
        self._chown(sock)
        argv = [
            str(postgres_bindir() / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(sock),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ]
        # The log file is opened by us (root) before the switch; postgres only writes to it.
        self.process = proc.spawn(argv, self.log, cwd=self.home, **self._as_postgres())
        wait_for(
            self._ping,
            timeout=timeout,
            what=f"PostgreSQL on 127.0.0.1:{self.port}",
            interval=0.2,
            detail=lambda: "postgres log tail:\n" + proc.tail(self.log),
        )
        self._ensure_database()

    def _ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {self.process.returncode}")
        base = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(base, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def _ensure_database(self) -> None:
        base = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(base, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if exists.fetchone() is None:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def stop(self) -> None:
        """Fast shutdown (pg_ctl's default): sessions are ended, open transactions rolled back,
        then a clean stop. SIGTERM alone is a *smart* shutdown, which waits for every client to
        disconnect by itself: with services' connection pools open it never ends, and the
        postmaster was SIGKILLed at the timeout (a crash, recovered at the next start)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            proc.stop(self.process, timeout=30)

    def kill(self) -> None:
        if self.process is not None:
            proc.kill(self.process)
