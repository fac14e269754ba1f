"""PostgreSQL's lock files before a (re)start (infra/postgres/locks.py), with real processes:
a dead PID's file is left for PostgreSQL to replace, a PID now held by an unrelated process
is removed, and a live server of the same data directory is never started over."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.postgres.locks import clear_stale, lock_pid


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def sleeper(data: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A live process with the data directory as its working directory, like a postmaster."""
    process = subprocess.Popen(["sleep", "300"], cwd=data)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


def lock(path: Path, pid: int) -> Path:
    path.write_text(f"{pid}\n/the/data\n1700000000\n5432\n")
    return path


def dead_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait(10)  # reaped: its PID is free
    return done.pid


def test_a_dead_pids_lock_file_is_left_to_postgresql(data: Path) -> None:
    path = lock(data / "postmaster.pid", dead_pid())
    assert clear_stale(data, [path, data / "absent.lock"]) == []
    assert path.exists() and lock_pid(path) is not None


def test_a_pid_reused_by_another_process_is_stale(data: Path, tmp_path: Path) -> None:
    other = subprocess.Popen(["sleep", "300"], cwd=tmp_path)  # not in the data directory
    try:
        path = lock(data / ".s.PGSQL.5432.lock", other.pid)
        assert clear_stale(data, [path]) == [path]
        assert not path.exists()
    finally:
        other.terminate()
        other.wait(10)


def test_a_live_server_of_this_data_is_never_started_over(
    data: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = lock(data / "postmaster.pid", sleeper.pid)
    with pytest.raises(RuntimeError, match=f"names pid {sleeper.pid}, a running server"):
        clear_stale(data, [path])
    assert path.exists()


def test_a_half_written_lock_file_is_left_alone(data: Path) -> None:
    path = data / "postmaster.pid"
    path.write_text("")
    assert lock_pid(path) is None and clear_stale(data, [path]) == [] and path.exists()
