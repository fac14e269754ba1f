"""Install what the platform needs from Debian's packages, only when it is missing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

_apt_updated = False


def apt_install(*packages: str) -> None:
    """``apt-get install`` as root; ``apt-get update`` once per process first."""
    global _apt_updated
    print(f"fanout: installing Debian packages: {' '.join(packages)}", file=sys.stderr)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        _apt_updated = True
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def ensure_command(command: str, package: str) -> str:
    """Path of ``command``, installing ``package`` first when it is not on PATH."""
    found = shutil.which(command)
    if not found:
        apt_install(package)
        found = shutil.which(command)
    if not found:
        raise RuntimeError(f"{command} still missing after installing {package}")
    return found


def postgres_bindir() -> Path:
    """Directory of Debian's PostgreSQL server binaries (newest installed major)."""

    def find() -> Path | None:
        majors = sorted(
            (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "postgres").exists()),
            key=lambda p: int(p.parent.name),
        )
        return majors[-1] if majors else None

    found = find()
    if found is None:
        apt_install("postgresql")
        found = find()
    if found is None:
        raise RuntimeError("PostgreSQL server binaries missing after apt-get install postgresql")
    return found
