"""Further instances of a service in its consumer group, run by the supervisor on request:
``scale/<name>`` beside its status file holds how many instances of ``name`` are wanted
(absent: one). Each further one is ``<name>-<i>`` with a dashboard port of its own.
``store/<name>`` holds the offset strategy (``kafka`` or ``database``) its next start uses in
place of compose.yml's ``OFFSET_STORE`` — a redeploy with the other strategy, for a scenario."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from infra.compose.spec import ServiceSpec


class HasInstance(Protocol):
    instance_of: str | None


def scale_path(home: Path, name: str) -> Path:
    return home / "scale" / name


def store_path(home: Path, name: str) -> Path:
    return home / "store" / name


def with_store(home: Path, spec: ServiceSpec) -> ServiceSpec:
    """``spec`` with the offset strategy ``store/<service>`` asks for (its further instances
    ``<service>-<i>`` too); unchanged when none is asked."""
    store = read_request(store_path(home, spec.name.partition("-")[0]))
    if store is None:
        return spec
    if store not in ("kafka", "database"):
        return spec  # a stray word is no strategy: compose.yml's stays
    return replace(spec, env={**spec.env, "OFFSET_STORE": store})


def wanted(home: Path, name: str) -> int:
    """How many instances ``scale/<name>`` asks for (1 without it)."""
    try:
        return max(1, int(read_request(scale_path(home, name)) or 1))
    except ValueError:
        return 1


def read_request(path: Path, limit: int = 16) -> str | None:
    """A request file's few bytes, or None. Its folder is the services' account's: the
    supervisor (root) reads a regular file only, never through a link, never blocking on a
    planted FIFO, and at most ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit).decode(errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def missing(spec: ServiceSpec, want: int, running: Mapping[str, object]) -> Iterator[ServiceSpec]:
    """Specs of the further instances of ``spec`` wanted and not running."""
    for i in range(2, want + 1):
        name = f"{spec.name}-{i}"
        if name not in running:
            yield replace(spec, name=name, env={**spec.env, "WEB_PORT": str(free_port())})


def surplus(name: str, want: int, running: Mapping[str, HasInstance]) -> list[str]:
    """Further instances of ``name`` beyond ``want``."""
    return [
        key
        for key, r in running.items()
        if r.instance_of == name and int(key.rsplit("-", 1)[1]) > want
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
