"""When the supervisor cannot bring a process back, it gives up — and says so, never
silently: in its log, in `./fanout status`, in every process's /health and on the overview.
Here PostgreSQL is SIGKILLed and its port is then taken by another listener, so every restart
fails to bind; the supervisor is told to give up after 2 failed restarts. `./fanout down`
still stops everything cleanly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from infra.local.supervisor import Supervisor
from infra.polling import wait_for
from tests.support.kafka import new_topic
from tests.support.processes import ServiceProcess, stopped_at_exit
from tests.support.supervised import SupervisedStack, not_a_zombie, start_supervised
from tests.support.web import get_json, health

GIVE_UP_AFTER = 2


@pytest.fixture(autouse=True)
def infra_back_up() -> Iterator[None]:
    """Replaces the suite's fixture: this module runs its own supervised stack."""
    yield


@pytest.fixture
def sup() -> Iterator[SupervisedStack]:
    supervised = start_supervised(
        "give-up", FANOUT_RESTART_GIVE_UP_AFTER=str(GIVE_UP_AFTER), FANOUT_RESTART_FIRST_S="2"
    )
    try:
        yield supervised
    finally:
        supervised.stop()  # `./fanout down` after a give-up: still clean, exit 0


@contextmanager
def port_taken(port: int) -> Iterator[None]:
    """Another process's listener on 127.0.0.1:``port`` (bound once the old one let go)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

        def bound() -> bool:
            s.bind(("127.0.0.1", port))  # refused while the killed postmaster's socket lingers
            return True

        wait_for(bound, timeout=10, what=f"port {port} to be free")
        s.listen()
        yield


def test_a_postgres_that_cannot_start_is_given_up_and_said_so(sup: SupervisedStack) -> None:
    topic = new_topic(sup.stack.bootstrap, "give-up", 1)
    publisher = ServiceProcess("publisher", {"EVENTS_TOPIC": topic}, Supervisor(sup.stack))
    with stopped_at_exit(publisher.start()):
        answers = publisher.alive_and(lambda: health(publisher.port)["status"] == 200)
        wait_for(answers, timeout=60, what="the publisher to answer", detail=lambda: publisher.log)
        pid = sup.kill("postgres")
        with port_taken(sup.stack.settings.pg_port):
            gone = sup.wait_state("postgres", ("gave up",), timeout=60)
        assert not_a_zombie(pid), f"postmaster {pid} was not reaped"
        assert (gone["restarts"], gone["failures"], gone["pid"]) == (0, GIVE_UP_AFTER + 1, None)
        assert "could not create any TCP/IP sockets" in gone["last_error"], gone
        said = sup.cli("status").stdout
        assert f"postgres: GAVE UP after {GIVE_UP_AFTER} failed restarts" in said, said
        assert "GAVE UP after 2 failed restarts in a row" in sup.log.read_text()
        assert health(publisher.port)["infra"] == {"kafka": "up", "postgres": "gave up"}
        shown = get_json(publisher.port, "/api/overview")
        assert shown["supervisor"]["gave_up"] == ["postgres"], shown["supervisor"]
        assert shown["db"]["up"] is False
