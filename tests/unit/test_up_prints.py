"""`./fanout up` names the overview first: the page a newcomer should open."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace as Fake

import pytest

from infra.cli import stack
from infra.kafka.credentials import CredentialStore


def test_up_prints_the_overview_first(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    running = {
        name: Fake(spec=Fake(web_port=port), process=Fake(pid=1))
        for name, port in (("publisher", 6065), ("analytics", 6066))
    }
    settings = Fake(topic="multi-app-events", partitions=6, replication=1)
    where = Fake(
        bootstrap="127.0.0.1:9092",
        database_url="postgresql://postgres:secret@127.0.0.1:55432/fanout",
        settings=settings,
        home=Path("/state/up"),
        credentials=CredentialStore(tmp_path),
    )
    stack._print_where(Fake(running=running, stack=where))  # type: ignore[arg-type]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "start here: http://127.0.0.1:6065/overview (the fan-out picture and the scenarios)"
    )
    urls = [line for line in lines if "http://" in line]
    assert "http://127.0.0.1:6065/overview" in urls[1]  # the table's first page, too
    # The learner's password is named masked, with its file: never in full.
    password = CredentialStore(tmp_path).password("learner")
    flat = "".join(ch for line in lines for ch in line if not ch.isspace() and ch != "│")
    assert password not in flat and password[:4] in flat and "learner.password" in flat
