"""`pip install .` alone runs every process: a clean venv without the [dev] extras imports
each entry module of compose.yml and talks to PostgreSQL through SQLAlchemy's asyncio (which
needs greenlet: a dev dependency pulling it in once hid that it was missing)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from infra.compose.spec import load_specs
from infra.local.stack import Stack
from infra.paths import ROOT, cache_dir

CHECK = """
import asyncio, importlib, sys
for module in sys.argv[2:]:
    importlib.import_module(module)
from shared.db import async_engine
from sqlalchemy import text

async def main():
    engine = async_engine(sys.argv[1], 1)
    async with engine.connect() as conn:
        print((await conn.execute(text("SELECT 41 + 1"))).scalar_one())
    await engine.dispose()

asyncio.run(main())
"""


def runtime_venv() -> Path:
    """A venv with `pip install .` only, kept per pyproject.toml version (cheap after once)."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    venv = cache_dir() / f"runtime-venv-{key}"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, str(ROOT)], check=True, capture_output=True, cwd=ROOT)
        (venv / ".complete").touch()
    return venv


def test_every_process_runs_on_runtime_dependencies_alone(stack: Stack, tmp_path: Path) -> None:
    venv = runtime_venv()
    modules = sorted({s.argv[2] for s in load_specs({"POSTGRES_PASSWORD": "x", **_passwords()})})
    assert modules == [
        "infra.cli",
        "services.analytics.app",
        "services.audit.app",
        "services.billing.app",
        "services.publisher.app",
    ]
    dev_only = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import pytest"], capture_output=True
    )
    assert dev_only.returncode == 1, "the runtime venv has dev dependencies"
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CHECK, stack.database_url, *modules],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the installed package, not this checkout's sources
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42\n"


def _passwords() -> dict[str, str]:
    from infra.compose.spec import local_role_passwords

    return local_role_passwords("x")
