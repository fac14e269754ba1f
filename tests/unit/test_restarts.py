"""The supervisor's restart policy (infra/local/restarts.py) and how its record is shown: backoff
doubles per consecutive failure, a stable run resets it, giving up is said out loud — in the
log, the status file, `./fanout status` and the overview's feed (shared/supervision.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.compose.spec import infra_policies, load_specs
from infra.local.restarts import Backoff, Restarts
from infra.paths import ROOT
from shared.supervision import infra_states, start_time, supervision

FAST = Backoff(first_s=1, max_s=8, stable_s=30, give_up_after=3)


def test_compose_gives_kafka_and_postgres_a_restart_policy_the_runner_reads() -> None:
    assert infra_policies() == {"kafka": "unless-stopped", "postgres": "unless-stopped"}
    assert {s.name: s.restart for s in load_specs({"POSTGRES_PASSWORD": "x", **_roles()})} == {
        "init": "no",
        "publisher": "unless-stopped",
        "analytics": "unless-stopped",
        "billing": "unless-stopped",
        "audit": "unless-stopped",
    }


def _roles() -> dict[str, str]:
    from infra.compose.spec import local_role_passwords

    return local_role_passwords("x")


def test_delay_doubles_per_consecutive_failure_up_to_its_cap() -> None:
    assert [FAST.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_an_exit_schedules_a_restart_and_a_stable_run_resets_the_backoff() -> None:
    r = Restarts("postgres", "unless-stopped", FAST, up_since=0.0)
    r.exited(-9, now=100.0)  # after a long run: the first failure
    assert (r.state, r.failures, r.retry_at, r.last_exit) == ("down", 1, 101.0, -9)
    assert not r.due(100.5) and r.due(101.0)
    r.starting()
    r.started(now=103.0)
    assert (r.state, r.restarts, r.last_down_s) == ("up", 1, 3.0)
    r.exited(-9, now=110.0)  # 7 s after the restart: a second failure in a row
    assert (r.failures, r.retry_at) == (2, 112.0)
    r.started(now=112.5)
    r.exited(-9, now=200.0)  # stable since: counted afresh
    assert (r.failures, r.retry_at) == (1, 201.0)


def test_giving_up_is_said_in_the_log_and_the_record(capsys: pytest.CaptureFixture[str]) -> None:
    r = Restarts("kafka", "unless-stopped", FAST, up_since=0.0)
    r.exited(1, now=100.0)
    for attempt in range(3):
        r.starting()
        r.start_failed(now=101.0 + attempt, error="port 9092 is taken")
    assert (r.state, r.retry_at, r.failures) == ("gave up", None, 4)
    assert r.view()["state"] == "gave up" and r.view()["last_error"] == "port 9092 is taken"
    assert "kafka did not start: port 9092 is taken; GAVE UP after 3 failed restarts" in (
        capsys.readouterr().err
    )


POLICIES = [("no", -9, "exited"), ("on-failure", 0, "exited"), ("on-failure", 1, "down")]


@pytest.mark.parametrize(("policy", "code", "state"), [*POLICIES, ("always", 0, "down")])
def test_the_policy_decides_whether_an_exit_restarts(policy: str, code: int, state: str) -> None:
    r = Restarts("x", policy, FAST, up_since=0.0)
    r.exited(code, now=100.0)
    assert r.state == state


def _status_file(home: Path) -> Path:
    """A status file as the supervisor writes it, naming this (live) process as supervisor."""
    down = Restarts("postgres", "unless-stopped", FAST, up_since=0.0)
    down.exited(-9, now=100.0)
    gone = Restarts("kafka", "unless-stopped", Backoff(give_up_after=0), up_since=0.0)
    gone.exited(-9, now=1.0)
    home.mkdir(parents=True)
    path = home / "supervisor.json"
    status = {
        "pid": os.getpid(),
        "pid_start": start_time(os.getpid()),
        "kafka": "127.0.0.1:1",
        "database": "postgresql://postgres:***@127.0.0.1:2/fanout",
        "infra": {
            "kafka": {"pid": None, **gone.view()},
            "postgres": {"pid": None, **down.view(now=100.0)},
        },
        "services": {"audit": {"pid": 1, "port": 6068, **Restarts("audit").view()}},
    }
    path.write_text(json.dumps(status))
    return path


def test_the_overview_and_health_read_what_the_supervisor_says(tmp_path: Path) -> None:
    path = _status_file(tmp_path / "up")
    view = supervision(str(path))
    assert view is not None
    assert (view["gave_up"], view["down"]) == (["kafka"], ["kafka", "postgres"])
    assert view["services"]["audit"]["state"] == "up"
    assert infra_states(str(path)) == {"kafka": "gave up", "postgres": "down"}
    assert supervision(None) is None and supervision(str(tmp_path / "none.json")) is None


def test_status_says_what_is_down_and_what_was_given_up(tmp_path: Path) -> None:
    _status_file(tmp_path / "up")
    env = {**os.environ, "FANOUT_STATE_DIR": str(tmp_path), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "infra.cli", "status"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "postgres: down (exit -9; restart in" in done.stdout
    assert "kafka: GAVE UP after 0 failed restarts" in done.stdout
