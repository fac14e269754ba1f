"""A project-local PostgreSQL cluster from Debian's server binaries.

PostgreSQL refuses to run as root, so initdb and the server run as the ``postgres`` system
user that Debian's package creates; the cluster and its socket live in the state folder, or,
when the ``postgres`` user cannot enter it (a clone in root's home, mode 700), in a folder of
this clone's own under /var/lib/fanout-postgres. Its superuser password is random per cluster,
kept beside it (mode 600), never in the repo.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from infra.local import proc
from infra.local.system import postgres_bindir
from infra.polling import GiveUp, wait_for
from infra.postgres.locks import clear_stale
from shared.schema import READER_ROLE
from shared.secret_files import derived_password

ADMIN_USER = "postgres"
LEGACY_PASSWORD = "postgres"  # clusters made before passwords were random
DATABASE = "fanout"
ROLES = ("analytics", "billing", "audit", READER_ROLE)  # the migrations' roles
RELOCATED = Path("/var/lib/fanout-postgres")


def postgres_can_enter(path: Path) -> bool:
    """Can the ``postgres`` user search every folder above ``path``? (Mode bits only: an ACL
    that would allow it is not looked at, so the answer errs towards relocating.)"""
    if os.geteuid() != 0:
        return True  # not root: the server runs as us
    user = pwd.getpwnam("postgres")
    groups = {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem} | {user.pw_gid}
    for folder in path.parents:
        if not folder.exists():
            continue  # made by us (root) with the usual umask: enterable
        st = folder.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return False
    return True


@dataclass
class PostgresServer:
    home: Path
    port: int = 55432
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.home = self.home.resolve()  # postgres runs with cwd=home: paths must be absolute

    @property
    def cluster_dir(self) -> Path:
        """Data and socket, the one folder the ``postgres`` user owns: under the state folder
        if it can reach it, else relocated. Root writes nothing it does not create there:
        ``home`` itself (password, log) stays root's, so no link planted as ``postgres`` is
        ever followed by root."""
        if postgres_can_enter(self.home):
            return self.home / "cluster"
        return RELOCATED / hashlib.sha256(str(self.home).encode()).hexdigest()[:16]

    @property
    def data(self) -> Path:
        return self.cluster_dir / "data"

    @property
    def password_file(self) -> Path:
        return self.home / "superuser-password"

    @property
    def password(self) -> str:
        if self.password_file.exists():
            return self.password_file.read_text().strip()
        return LEGACY_PASSWORD

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql://{ADMIN_USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def reader_url(self) -> str:
        """The read-only role the migrations create (dashboards, reconcile)."""
        return self.role_url(READER_ROLE)

    def role_url(self, role: str) -> str:
        """A role's URL: its password derived from the superuser's (never the role's name)."""
        password = derived_password(self.password, role)
        return f"postgresql://{role}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def role_passwords_file(self) -> Path:
        return self.home / "role-passwords"

    def write_role_passwords(self) -> None:
        """Every role's password beside the superuser's, for a person's own client: mode 600,
        root's folder, never through a link; printed nowhere."""
        text = "".join(f"{r}={derived_password(self.password, r)}\n" for r in ROLES)
        path = self.role_passwords_file
        if path.is_file() and not path.is_symlink() and path.read_text() == text:
            return
        path.unlink(missing_ok=True)  # removes a planted link, not what it points to
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(path, flags, 0o600), "w") as out:
            out.write(text)

    def _as_postgres(self) -> dict[str, Any]:
        """Popen arguments that drop root to the postgres user (when we are root)."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _chown(self, path: Path) -> None:
        """To ``postgres``, never through a link (a planted one changes nothing)."""
        if os.geteuid() == 0:
            uid, gid = pwd.getpwnam("postgres").pw_uid, grp.getgrnam("postgres").gr_gid
            os.chown(path, uid, gid, follow_symlinks=False)

    def _own_dir(self, path: Path) -> None:
        """A real folder for ``postgres`` to own (a link in its place is refused)."""
        path.mkdir(exist_ok=True)
        if path.is_symlink() or not path.is_dir():
            raise RuntimeError(f"{path} is not a folder (a link?): refusing to use it")
        self._chown(path)

    def _prepare_cluster_dir(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.home, 0, 0, follow_symlinks=False)  # an older layout gave it away
        where = self.cluster_dir
        legacy = self.home / "data"
        if where.parent == self.home and (legacy / "PG_VERSION").exists() and not where.exists():
            where.mkdir()
            legacy.rename(where / "data")  # rename moves a link itself, never its target
        if where.parent == self.home:
            self._own_dir(where)
            return
        if not self.password_file.exists():
            shutil.rmtree(where, ignore_errors=True)  # this clone's state was reset
        where.parent.mkdir(parents=True, exist_ok=True)
        self._own_dir(where)
        if not postgres_can_enter(where / "data"):
            raise RuntimeError(
                f"the postgres user can enter neither {self.home} nor {where}: give it search "
                f"permission (chmod o+x, or setfacl -m u:postgres:x) on the folders above one"
            )
        print(
            f"fanout: PostgreSQL data in {where} (the postgres user cannot enter {self.home})",
            file=sys.stderr,
        )

    def init(self) -> None:
        bindir = postgres_bindir()
        self._prepare_cluster_dir()
        if (self.data / "PG_VERSION").exists():
            return
        password = secrets.token_hex(16)
        pwfile = self.cluster_dir / "pwfile"
        pwfile.unlink(missing_ok=True)  # removes a planted link, not what it points to
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        self._chown(pwfile)
        self.password_file.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with os.fdopen(os.open(self.password_file, flags, 0o600), "w") as out:
            out.write(password + "\n")  # mode 600 from the start, never through a link
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
                cwd=self.cluster_dir,
                **self._as_postgres(),  # type: ignore[arg-type]
            )
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
        finally:
            pwfile.unlink(missing_ok=True)

    def start(self, timeout: float = 60.0) -> None:
        """Start the cluster (again, after a crash: PostgreSQL's own recovery replays its WAL)."""
        self.init()
        sock = self.cluster_dir / "socket"
        self._own_dir(sock)
        for path in clear_stale(self.data, [self.data / "postmaster.pid", self.socket_lock]):
            print(f"fanout: removed {path}: its PID belongs to another process", file=sys.stderr)
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
            "-c",
            # The bench reads when each row was committed (infra/bench/latency.py).
            "track_commit_timestamp=on",
        ]
        # The log file is opened by us (root) before the switch; postgres only writes to it.
        self.process = proc.spawn(argv, self.log, cwd=self.cluster_dir, **self._as_postgres())
        wait_for(
            self._ping,
            timeout=timeout,
            what=f"PostgreSQL on 127.0.0.1:{self.port}",
            interval=0.2,
            detail=lambda: "postgres log tail:\n" + proc.tail(self.log),
        )
        self._ensure_database()
        self.write_role_passwords()

    @property
    def socket_lock(self) -> Path:
        return self.cluster_dir / "socket" / f".s.PGSQL.{self.port}.lock"

    def restart(self, timeout: float = 60.0) -> None:
        """The supervisor's restart of a postmaster that exited (and was reaped): on the same
        data; a start that does not get ready is stopped again, so the next try starts clean."""
        try:
            self.start(timeout)
        except BaseException:
            self.stop()
            raise

    def _ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            # GiveUp: waiting longer cannot help (a plain error would be retried to the deadline)
            raise GiveUp(f"postgres exited with {self.process.returncode}: {self._fatal()}")
        base = self.url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(base, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def _fatal(self) -> str:
        """The last FATAL line of the log: why a postmaster refused to start."""
        lines = [line for line in proc.tail(self.log, 20).splitlines() if "FATAL" in line]
        return lines[-1].split("FATAL:", 1)[-1].strip() if lines else "see " + str(self.log)

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
