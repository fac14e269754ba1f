"""Debian's podman as a container engine on a machine without Docker, with what makes it run.

podman 4.3 needs three workarounds here (see README, "The compose tier"): default ulimits at
or below the host's hard limits (it asks for more, and setrlimit is refused), the ``runc``
runtime with the ``cgroupfs`` manager (crun refuses hybrid cgroups), and healthchecks run by
us (it schedules them with systemd timers, and there is no systemd). Its storage, networks and
run state live in folders of their own, so the project never touches another podman user's
images or configuration; images built there are kept for every later run on the machine.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import resource
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.compose.v1 import docker_compose
from infra.local import proc
from infra.local.system import ensure_command
from infra.paths import ROOT
from infra.polling import wait_for

# Machine-wide on purpose: stand-in images are built once per machine, not once per clone.
DEFAULT_HOME = Path("/var/lib/fanout-containers")
PACKAGES = {"podman": "podman", "runc": "runc", "debootstrap": "debootstrap"}


class EngineError(RuntimeError):
    """The container engine cannot be made to work here: the compose tier fails with this."""


def engine_home() -> Path:
    return Path(os.environ.get("FANOUT_CONTAINERS_HOME", DEFAULT_HOME))


def _ulimit(kind: int, cap: int) -> int:
    """At or below the host's hard limit (podman's own default is refused by setrlimit)."""
    hard = resource.getrlimit(kind)[1]
    return cap if hard == resource.RLIM_INFINITY else min(cap, hard)


def ensure_installed() -> dict[str, str]:
    """podman, runc, debootstrap and docker-compose from Debian, installed when missing."""
    found = {cmd: ensure_command(cmd, pkg) for cmd, pkg in PACKAGES.items()}
    found["docker-compose"] = docker_compose()
    return found


def image_store() -> Podman:
    """The machine-wide store: the Debian base and the stand-ins, built once per machine."""
    return Podman(engine_home())


def engines() -> tuple[Podman, Podman]:
    """The machine-wide store and this checkout's engine, configured, the store created first:
    the checkout's engine names it as an additional image store, and podman refuses to start
    with one that does not exist yet (``can't stat imageStore dir``), as on a fresh machine."""
    ensure_installed()
    store, podman = image_store(), checkout_engine()
    store.configure()
    store.create_storage()
    podman.configure()
    return store, podman


def checkout_engine() -> Podman:
    """This checkout's own storage (its fanout:latest, containers, volumes, networks), reading
    the stand-ins from the machine-wide store. Two checkouts testing at once then never build
    over each other's fanout:latest, which compose.yml names."""
    key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]
    home = engine_home()
    return Podman(home / "checkouts" / key, shared=home / "storage")


@dataclass
class Podman:
    home: Path
    shared: Path | None = None  # a read-only image store to use as well

    @property
    def run_dir(self) -> Path:
        """Run state (tmpfs: gone at reboot, as it must be), one folder per storage home."""
        if self.home == DEFAULT_HOME:
            return Path("/run/fanout-containers")
        return (
            Path("/run") / f"fanout-containers-{hashlib.sha256(bytes(self.home)).hexdigest()[:8]}"
        )

    @property
    def conf(self) -> Path:
        return self.home / "containers.conf"

    @property
    def storage_conf(self) -> Path:
        return self.home / "storage.conf"

    def configure(self) -> None:
        nofile = _ulimit(resource.RLIMIT_NOFILE, 1_048_576)
        nproc = _ulimit(resource.RLIMIT_NPROC, 32_768)
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "networks").mkdir(exist_ok=True)
        self.conf.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'tmp_dir = "{self.run_dir / "libpod"}"\n'
            "[network]\n"
            f'network_config_dir = "{self.home / "networks"}"\n'
        )
        if self.shared is not None:  # podman refuses a store that does not exist yet
            self.shared.mkdir(parents=True, exist_ok=True)
        shared = f'[storage.options]\nadditionalimagestores = ["{self.shared}"]\n'
        self.storage_conf.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.home / "storage"}"\n'
            f'runroot = "{self.run_dir / "storage"}"\n' + (shared if self.shared else "")
        )

    def create_storage(self) -> None:
        """Its graphroot, initialised (podman creates it on first use; a listing is enough)."""
        self.run("images", "--quiet")

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ if base is None else base)
        env["CONTAINERS_CONF"] = str(self.conf)
        env["CONTAINERS_STORAGE_CONF"] = str(self.storage_conf)
        return env

    def run(
        self, *args: str, check: bool = True, input: bytes | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args],
            env=self.env(),
            capture_output=True,
            input=input.decode() if input is not None else None,
            text=True,
            stdin=None if input is not None else subprocess.DEVNULL,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise EngineError(f"podman {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result

    def image_exists(self, ref: str) -> bool:
        return self.run("image", "exists", ref, check=False).returncode == 0

    def ids(self, kind: str, *filters: str) -> list[str]:
        """Containers, volumes or networks matching every ``key=value`` filter."""
        fmt = "{{.Name}}" if kind in ("volume", "network") else "{{.ID}}"
        args = [kind, "ls", "--format", fmt]
        if kind == "container":
            args.insert(2, "--all")
        for f in filters:
            args += ["--filter", f]
        return self.run(*args).stdout.split()


@dataclass
class PodmanService:
    """``podman system service``: the Docker-compatible API that docker-compose talks to."""

    podman: Podman
    name: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.podman.run_dir / f"{self.name}.sock"

    @property
    def pidfile(self) -> Path:
        return self.podman.run_dir / f"{self.name}.pid"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 30) -> None:
        self.stop_leftover()
        self.podman.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        argv: Sequence[str] = ["podman", "system", "service", "--time=0", self.docker_host]
        self.process = proc.spawn(argv, self.log, env=self.podman.env())
        self.pidfile.write_text(str(self.process.pid))
        wait_for(
            self.ping,
            timeout=timeout,
            what=f"podman's API on {self.socket}",
            interval=0.2,
            detail=lambda: proc.tail(self.log),
        )

    def ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise EngineError(f"podman system service exited:\n{proc.tail(self.log)}")
        conn = _UnixHTTPConnection(str(self.socket))
        try:
            conn.request("GET", "/_ping")
            return conn.getresponse().status == 200
        finally:
            conn.close()

    def stop_leftover(self) -> None:
        """The service a killed earlier run of this tier started (its pid file names it)."""
        try:
            pid = int(self.pidfile.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"system\0service" in cmdline and str(self.socket).encode() in cmdline:
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not proc.pid_alive(pid), timeout=20, what=f"old podman {pid}")

    def stop(self) -> None:
        if self.process is not None:
            proc.stop(self.process, timeout=20)
        self.pidfile.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=5)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.connect(self._path)
        self.sock = sock
