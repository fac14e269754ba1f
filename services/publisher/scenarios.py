"""The overview's Scenarios panel: each Run is `./fanout scenario run NAME` in a child process
(the one engine, the CLI's: the page only relays its narration line by line), one at a time.
The child inherits the publisher's environment — compose.yml's KAFKA_BOOTSTRAP_SERVERS,
EVENTS_TOPIC, READER_DATABASE_URL — and, under `./fanout up`, finds the supervisor's status
file for process control; under compose it has none, and says so."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]  # where `python -m infra.cli` is found
CLI = (sys.executable, "-m", "infra.cli", "scenario")
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
        self._task = asyncio.create_task(self._follow(self.current), name=f"scenario-{name}")
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

    def view(self) -> dict[str, Any] | None:
        return None if self.current is None else self.current.view()
