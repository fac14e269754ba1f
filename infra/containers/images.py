"""Local stand-ins for the third-party images compose.yml names, built offline from Debian.

No container registry is reachable here, so ``python:3.11-slim``, ``apache/kafka:4.4.0`` and
``postgres:15`` are built from a Debian 12 base made with debootstrap (Debian's packages only)
and tagged with the official names: compose.yml and infra/Dockerfile run unchanged. Each
image's tag carries a hash of its definition (files, base, inputs), so it is built once per
machine and rebuilt only when its definition changes.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.containers.engine import EngineError, Podman
from infra.kafka.server import LOG4J, ensure_jars, ensure_tool_jar, kafka_version

HERE = Path(__file__).resolve().parent / "standins"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
HOST_CA = Path("/usr/local/share/ca-certificates")
BASE_RECIPE = "minbase;ca-certificates;host-ca;v1"


@dataclass(frozen=True)
class StandIn:
    name: str  # folder under standins/
    official: str  # the name compose.yml or infra/Dockerfile uses


STANDINS = (
    StandIn("python", "docker.io/library/python:3.11-slim"),
    StandIn("kafka", f"docker.io/apache/kafka:{kafka_version()}"),
    StandIn("postgres", "docker.io/library/postgres:15"),
)


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _files(folder: Path) -> list[bytes]:
    return [
        str(p.relative_to(folder)).encode() + p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def _host_cas() -> list[Path]:
    """The machine's own CAs (its HTTPS proxy's among them): pip inside a build needs them."""
    return sorted(HOST_CA.glob("*.crt")) if HOST_CA.is_dir() else []


def _say(message: str) -> None:
    print(f"fanout: {message}", file=sys.stderr, flush=True)


class Images:
    def __init__(self, podman: Podman) -> None:
        self.podman = podman

    def base(self) -> str:
        """Debian 12 minbase + ca-certificates + the host's CAs, imported as an image."""
        key = _digest(
            [BASE_RECIPE.encode(), MIRROR.encode(), *(p.read_bytes() for p in _host_cas())]
        )
        ref = f"localhost/fanout-debian:{SUITE}-{key}"
        if self.podman.image_exists(ref):
            return ref
        started = time.monotonic()
        _say(f"building the Debian 12 base image with debootstrap (once per machine): {ref}")
        with tempfile.TemporaryDirectory(prefix="fanout-rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            self._debootstrap(rootfs)
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            imported = subprocess.run(
                ["podman", "import", "--change", 'CMD ["bash"]', "-", ref],
                stdin=tar.stdout,
                env=self.podman.env(),
                capture_output=True,
                text=True,
            )
            tar.wait()
            if imported.returncode != 0 or tar.returncode != 0:
                raise EngineError(f"podman import of the base failed:\n{imported.stderr}")
        _say(f"base image ready in {time.monotonic() - started:.0f}s")
        return ref

    def _debootstrap(self, rootfs: Path) -> None:
        argv = ["debootstrap", "--variant=minbase", "--include=ca-certificates", SUITE]
        result = subprocess.run([*argv, str(rootfs), MIRROR], capture_output=True, text=True)
        if result.returncode != 0:
            raise EngineError(f"debootstrap failed:\n{result.stdout[-3000:]}{result.stderr}")
        for ca in _host_cas():
            shutil.copy(ca, rootfs / "usr/local/share/ca-certificates" / ca.name)
        subprocess.run(
            ["chroot", str(rootfs), "update-ca-certificates"], check=True, capture_output=True
        )
        for cache in ("var/lib/apt/lists", "var/cache/apt/archives"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()

    def context(self, standin: StandIn, into: Path) -> Path:
        """The build context: the stand-in's folder, plus the Kafka jars for kafka."""
        ctx = into / standin.name
        shutil.copytree(HERE / standin.name, ctx)
        if standin.name == "kafka":
            libs = ctx / "libs"
            shutil.copytree(ensure_jars(), libs, ignore=shutil.ignore_patterns(".complete"))
            shutil.copy(ensure_tool_jar(), libs)
            shutil.copy(LOG4J, ctx / "log4j2.properties")
        return ctx

    def build(self, standin: StandIn, base: str) -> str:
        """Build (or reuse) one stand-in; tag it with its official name; return that name."""
        with tempfile.TemporaryDirectory(prefix=f"fanout-{standin.name}-") as tmp:
            ctx = self.context(standin, Path(tmp))
            key = _digest([base.encode(), *_files(ctx)])
            ref = f"localhost/fanout-standin-{standin.name}:{key}"
            if not self.podman.image_exists(ref):
                started = time.monotonic()
                _say(f"building the {standin.official} stand-in (once per machine): {ref}")
                self.podman.run(
                    "build", "--build-arg", f"BASE={base}", "-t", ref, str(ctx), timeout=1200
                )
                _say(f"{standin.name} stand-in ready in {time.monotonic() - started:.0f}s")
        self.podman.run("tag", ref, standin.official)
        return standin.official

    def ensure_all(self) -> list[str]:
        base = self.base()
        return [self.build(s, base) for s in STANDINS]
