"""The supervisor's status file is replaced in one step: a reader never sees half of it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from infra.local.stack import redacted
from infra.local.supervisor import write_atomically


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
