"""The overview's Scenarios panel: each Run is `./fanout scenario run NAME` (the one engine, the
CLI's: the page only relays its narration line by line), one at a time.

Under `./fanout up` the supervisor runs it (infra/local/scenario_runs.py): the publisher has its
own principal's rights only, and a scenario needs the operator's (a group reset, a lab
consumer); the page asks through ``scenario-requests/`` and follows ``scenario-runs/``. Under
compose there is no supervisor: the child is the publisher's own, with its environment
(KAFKA_BOOTSTRAP_SERVERS, EVENTS_TOPIC, READER_DATABASE_URL), and a step that needs more says
which command does it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.supervision import SCENARIO_REQUESTS, SCENARIO_RUNS

ROOT = Path(__file__).resolve().parents[2]  # where `python -m infra.cli` is found
CLI = (sys.executable, "-m", "infra.cli", "scenario")
POLL_S, REQUEST_PATIENCE_S = 0.2, 15.0  # the supervisor looks every 0.5 s
MAX_LINES = 500  # a narration is a few dozen lines; a runaway one must not grow the page
VERDICTS = {0: "held", 1: "did not hold", 2: "cannot run here"}
# How the engine's last line begins (infra/scenarios/engine.py; a unit test holds the two
# together): it is the outcome, shown apart from the narration, even before the child exits.
LAST_LINES = ("verdict: ", "cannot run here: ", "stopped before its verdict: ")


@dataclass
class ScenarioRun:
    name: str
    touches: list[str]
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    lines: list[str] = field(default_factory=list)  # the narration
    outcome: str | None = None  # the last line: the verdict with its numbers, or why not
    code: int | None = None  # None while it runs

    def add(self, line: str) -> None:
        if line.startswith(LAST_LINES):
            self.outcome = line
        elif len(self.lines) < MAX_LINES:
            self.lines.append(line)

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "touches": self.touches,
            "started_at": self.started_at,
            "lines": self.lines,
            "outcome": self.outcome,
            "running": self.code is None,
            "code": self.code,
            "verdict": None if self.code is None else VERDICTS.get(self.code, "failed"),
        }


@dataclass
class Scenarios:
    supervisor: Path | None = None  # the supervisor's folder: it runs them (None: compose)
    listing: list[dict[str, Any]] | None = None
    current: ScenarioRun | None = None
    _task: asyncio.Task[None] | None = None

    async def catalog(self) -> list[dict[str, Any]]:
        """`./fanout scenario list --json`, asked once."""
        if self.listing is None:
            child = await asyncio.create_subprocess_exec(
                *CLI, "list", "--json", cwd=ROOT, stdout=asyncio.subprocess.PIPE
            )
            out, _ = await child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"scenario list exited {child.returncode}")
            self.listing = list(json.loads(out))
        return self.listing

    async def start(self, name: str) -> str | None:
        """Start ``name``; or why not (another is running, or no such scenario)."""
        found = {s["name"]: s for s in await self.catalog()}
        # No await from this check to setting ``current``: two clicks cannot both pass it.
        if self.current is not None and self.current.code is None:
            return f"{self.current.name} is running: one scenario at a time"
        if name not in found:
            return f"no scenario {name!r}"
        self.current = ScenarioRun(name, list(found[name]["touches"]))
        follow = self._follow if self.supervisor is None else self._follow_supervised
        self._task = asyncio.create_task(follow(self.current), name=f"scenario-{name}")
        return None

    async def _follow(self, run: ScenarioRun) -> None:
        child = await asyncio.create_subprocess_exec(
            *CLI,
            "run",
            run.name,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # the client libraries' logs go to the publisher's log, not the page
        )
        assert child.stdout is not None
        async for raw in child.stdout:
            run.add(raw.decode(errors="replace").rstrip("\n"))
        run.code = await child.wait()

    async def _follow_supervised(self, run: ScenarioRun) -> None:
        """Ask the supervisor for the run, then relay its narration until its exit code."""
        assert self.supervisor is not None
        run_id = uuid.uuid4().hex
        await asyncio.to_thread(ask, self.supervisor / SCENARIO_REQUESTS, run_id, run.name)
        runs = self.supervisor / SCENARIO_RUNS
        out, code, taken = runs / f"{run_id}.out", runs / f"{run_id}.code", 0
        for _ in range(int(REQUEST_PATIENCE_S / POLL_S)):  # until the supervisor takes it
            if out.exists():
                break
            await asyncio.sleep(POLL_S)
        else:
            run.add("cannot run here: the supervisor did not take the request")
            run.code = 2
            return
        pending = b""
        while run.code is None:
            done = code.exists()  # before the read: every line written by then is read
            data = await asyncio.to_thread(read_from, out, taken)
            taken += len(data)
            *lines, pending = (pending + data).split(b"\n")
            for line in lines:
                run.add(line.decode(errors="replace"))
            if done:
                run.code = int((await asyncio.to_thread(code.read_text)).strip() or 1)
            else:
                await asyncio.sleep(POLL_S)

    def view(self) -> dict[str, Any] | None:
        return None if self.current is None else self.current.view()


def ask(requests: Path, run_id: str, name: str) -> None:
    """The request, whole or not at all (written aside, then renamed into place)."""
    tmp = requests / f".{run_id}.tmp"
    tmp.write_text(name)
    os.replace(tmp, requests / run_id)


def read_from(path: Path, offset: int) -> bytes:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read()


def supervisor_folder(status: str | None) -> Path | None:
    """Where the supervisor takes scenario requests, when one runs this publisher."""
    if status is None:
        return None
    home = Path(status).parent
    return home if (home / SCENARIO_REQUESTS).is_dir() else None
