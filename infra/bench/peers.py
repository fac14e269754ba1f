"""The pipelines fanout is measured against, each as three processes (one consumer group each)
reading the same backlog: the Quix Streams peer and the no-framework ceiling."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import psycopg

from infra.bench.clock import Procs
from infra.local import proc
from infra.local.stack import Stack
from infra.paths import ROOT, cache_dir

COPIES = 3
QUIX_REQUIREMENTS = ROOT / "infra" / "bench" / "peer" / "requirements-quix.txt"
QUIX_APP = ROOT / "infra" / "bench" / "peer" / "quix_app.py"
# The Quix peer's two forms (`--peer quix` drains with both), as the variables quix_app.py reads.
# ``quix``: the library's defaults, as its users get them (whole value, 5 s checkpoint).
# ``quix-tuned``: chosen by measuring (quix_app.py's docstring has the sweep).
QUIX_FORMS: dict[str, dict[str, str]] = {
    "quix": {},
    "quix-tuned": {
        "QUIX_COLUMNS": "event_id,event_type,event_datetime,user_id,amount",
        "QUIX_INCLUDE_METADATA": "0",
        "QUIX_COMMIT_INTERVAL": "1",
    },
}


def pipelines(peers: tuple[str, ...]) -> list[str]:
    """The drains ``--peer`` asks for: ``quix`` is the Quix peer in both its forms."""
    return [form for p in peers for form in (QUIX_FORMS if p == "quix" else [p])]


def groups(pipeline: str) -> list[str]:
    return [f"bench-{pipeline}-{i}" for i in range(1, COPIES + 1)]


def quix_python() -> Path:
    """A venv of its own for the peer (its pins conflict with ours), rebuilt when the
    requirements change; the first run takes a minute."""
    venv = cache_dir() / "peer-quix-venv"
    stamp = venv / ".stamp"
    want = hashlib.sha256(QUIX_REQUIREMENTS.read_bytes()).hexdigest()
    python = venv / "bin" / "python"
    if not python.exists() or not stamp.exists() or stamp.read_text() != want:
        print("bench: installing the Quix Streams peer into its own venv", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
            + ["-r", str(QUIX_REQUIREMENTS)],
            check=True,
        )
        stamp.write_text(want)
    return python


def spawn_quix(stack: Stack, pipeline: str = "quix", extra: dict[str, str] | None = None) -> Procs:
    """``pipeline`` names the groups and tables; its variables are QUIX_FORMS[pipeline] (for a
    form's name) updated by ``extra``."""
    python = quix_python()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        # Created once here: three sinks creating it at the same moment would race.
        conn.execute("CREATE SCHEMA IF NOT EXISTS peer_quix")
    procs = {}
    for i, group in enumerate(groups(pipeline), 1):
        env = {
            **stack.env(),
            **stack.operator_env(),
            "QUIX_STATE_DIR": str(stack.home / f"{pipeline}-state-{i}"),
            **QUIX_FORMS.get(pipeline, {}),
            **(extra or {}),
        }
        table = f"{pipeline.replace('-', '_')}_events_{i}"
        log = stack.home / "logs" / f"{pipeline}-{i}.log"
        procs[f"{pipeline}-{i}"] = proc.spawn([str(python), str(QUIX_APP), group, table], log, env)
    return procs


def spawn_ceiling(
    stack: Stack, pipeline: str = "ceiling", extra: dict[str, str] | None = None
) -> Procs:
    """``pipeline`` names the groups and tables: each drain of the ceiling starts fresh;
    ``extra``: CEILING_* variables over ceiling.py's defaults (the sweep's)."""
    procs = {}
    for i, group in enumerate(groups(pipeline), 1):
        table = f"{pipeline.replace('-', '_')}_events_{i}"
        argv = [sys.executable, "-m", "infra.bench.ceiling", group, table]
        log = stack.home / "logs" / f"{pipeline}-{i}.log"
        env = {**stack.env(), **stack.operator_env(), **(extra or {})}  # operator: bench-* groups
        procs[f"{pipeline}-{i}"] = proc.spawn(argv, log, env, cwd=ROOT)
    return procs


def stop_all(procs: Procs) -> None:
    for p in procs.values():
        if p.poll() is None:
            p.terminate()  # SIGTERM to all first: they stop in parallel
    for p in procs.values():
        proc.stop(p)
