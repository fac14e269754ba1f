"""Scenario runs the overview asks the supervisor for, under `./fanout up`.

The publisher runs as the unprivileged account with the broker rights of its own principal (it
writes events; it cannot reset a group or join one), so a scenario started from its page cannot
play there. It asks instead: ``scenario-requests/<id>`` (its account's folder) names a scenario;
the supervisor — root, the stack's operator, as `./fanout scenario run` from a shell is — checks
the name against the catalog and runs the CLI, its narration into ``scenario-runs/<id>.out`` and
then its exit code into ``<id>.code`` (root's folder, readable by all; nothing there is the
account's to replace). The request can only name one of the catalog's experiments: it is the
overview's Run button, not a command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from infra.local import proc
from infra.local.instances import read_request
from infra.paths import ROOT
from shared.supervision import SCENARIO_REQUESTS, SCENARIO_RUNS

RUN_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class ScenarioRuns:
    home: Path  # the supervisor's folder (beside its status file)
    stack_home: Path  # whose operator the runs sign in as
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def requests(self) -> Path:
        return self.home / SCENARIO_REQUESTS

    @property
    def runs(self) -> Path:
        return self.home / SCENARIO_RUNS

    def tick(self) -> None:
        """Start what was asked, note what ended. One run at a time is the page's rule; a
        second request waits for the first to end."""
        for run_id, child in list(self.running.items()):
            code = child.poll()
            if code is not None:
                write_new(self.runs / f"{run_id}.code", str(code))
                del self.running[run_id]
        if self.running or not self.requests.is_dir():
            return
        for request in sorted(self.requests.iterdir())[:1]:
            name = read_request(request, limit=100)  # a scenario's name
            request.unlink(missing_ok=True)
            if RUN_ID.fullmatch(request.name) and name and name in catalog_names():
                self.start(request.name, name)

    def start(self, run_id: str, name: str) -> None:
        out = self.runs / f"{run_id}.out"
        env = {
            **os.environ,
            "FANOUT_SUPERVISOR_STATUS": str(self.home / "supervisor.json"),
            "FANOUT_STACK_HOME": str(self.stack_home),
        }
        argv = [sys.executable, "-m", "infra.cli", "scenario", "run", name]
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with (
            os.fdopen(os.open(out, flags, 0o644), "wb") as narration,
            os.fdopen(os.open(self.runs / f"{run_id}.log", flags, 0o600), "wb") as logs,
        ):  # the narration for the page; the client libraries' logs apart, as before
            self.running[run_id] = subprocess.Popen(
                argv, stdout=narration, stderr=logs, stdin=subprocess.DEVNULL, env=env,
                cwd=ROOT, start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        for child in self.running.values():
            proc.stop(child)


def catalog_names() -> set[str]:
    from infra.scenarios import catalog  # the scenarios' modules, only when one is asked for

    return set(catalog())


def write_new(path: Path, text: str) -> None:
    """A file of root's own folder, never through a link."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as out:
        out.write(text)
