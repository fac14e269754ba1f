"""The supervisor's status file is replaced in one step: a reader never sees half of it; and
a stale one (its PIDs reused by other programs) makes nothing signal them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.local.proc import signal_recorded, start_time
from infra.local.stack import redacted
from infra.local.status_file import read_status, write_atomically


def test_readers_never_see_a_partly_written_status(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.json"
    write_atomically(path, json.dumps({"n": -1}))
    big = {f"service-{i}": {"pid": i, "port": 6000 + i, "restarts": 0} for i in range(2_000)}
    done = threading.Event()

    def writer() -> None:
        for n in range(100):
            write_atomically(path, json.dumps({"n": n, **big}))
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    while not done.is_set() or reads == 0:
        json.loads(path.read_text())  # raises on a torn read
        reads += 1
    thread.join()
    assert json.loads(path.read_text())["n"] == 99
    assert [p.name for p in tmp_path.iterdir()] == ["supervisor.json"]  # no temp file left


def test_database_url_is_printed_without_its_password() -> None:
    url = "postgresql://postgres:9f2c4e@127.0.0.1:55432/fanout"
    assert redacted(url) == "postgresql://postgres:***@127.0.0.1:55432/fanout"
    assert redacted("postgresql://127.0.0.1/fanout") == "postgresql://127.0.0.1/fanout"


@pytest.fixture
def unrelated() -> Iterator[subprocess.Popen[bytes]]:
    """A live process the supervisor never started (its PID, say, reused after a reboot)."""
    env = {k: v for k, v in os.environ.items() if k != "FANOUT_STACK_HOME"}
    sleeper = subprocess.Popen(["sleep", "120"], env=env)
    try:
        yield sleeper
    finally:
        sleeper.kill()
        sleeper.wait(10)


def _write_status(home: Path, status: dict) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    write_atomically(home / "supervisor.json", json.dumps(status))
    return home / "supervisor.json"


def test_a_stale_status_file_naming_a_live_unrelated_pid_is_not_signalled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unrelated: subprocess.Popen[bytes]
) -> None:
    """After a reboot or a SIGKILLed supervisor the file may name a PID that is now another
    program: `down` clears the file, says so, and signals nothing."""
    monkeypatch.setenv("FANOUT_STATE_DIR", str(tmp_path))
    started = start_time(unrelated.pid)
    assert started is not None
    path = _write_status(tmp_path / "up", {"pid": unrelated.pid, "pid_start": started - 1})
    result = CliRunner().invoke(app, ["down"])
    assert result.exit_code == 0, result.output
    assert "cleared a stale status file" in result.output
    assert f"pid {unrelated.pid}) is now another process" in result.output
    assert "nothing was running" in result.output
    assert not path.exists()
    assert unrelated.poll() is None, "down signalled a process the supervisor never started"
    # A file of an older version (no start time recorded) is stale as well.
    _write_status(tmp_path / "up", {"pid": unrelated.pid})
    assert "cleared a stale status file" in CliRunner().invoke(app, ["down"]).output
    assert unrelated.poll() is None


def test_restart_does_not_signal_a_service_pid_that_is_another_process_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unrelated: subprocess.Popen[bytes]
) -> None:
    """The supervisor is live (this process stands in) but billing's entry names a PID whose
    start time differs: `restart` refuses and says why."""
    monkeypatch.setenv("FANOUT_STATE_DIR", str(tmp_path))
    me: dict[str, object] = {"pid": os.getpid(), "pid_start": start_time(os.getpid()), "infra": {}}
    started = start_time(unrelated.pid) or 0
    billing = {"pid": unrelated.pid, "pid_start": started + 1, "port": None}
    _write_status(tmp_path / "up", {**me, "services": {"billing": billing}})
    assert read_status(tmp_path / "up") is not None  # a live supervisor: not stale
    result = CliRunner().invoke(app, ["restart", "billing"])
    assert result.exit_code == 1, result.output
    assert f"pid {unrelated.pid} is no longer the process the supervisor started" in " ".join(
        result.output.split()
    )
    assert unrelated.poll() is None, "restart signalled a process the supervisor never started"


def test_signal_recorded_signals_the_recorded_process_only(
    unrelated: subprocess.Popen[bytes],
) -> None:
    started = start_time(unrelated.pid)
    assert not signal_recorded(unrelated.pid, None, signal.SIGTERM)
    assert not signal_recorded(unrelated.pid, (started or 0) + 1, signal.SIGTERM)
    assert unrelated.poll() is None
    assert signal_recorded(unrelated.pid, started, signal.SIGTERM)
    assert unrelated.wait(10) == -signal.SIGTERM
