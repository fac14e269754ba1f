"""The PostgreSQL-only tier: the inbox, progress, dead-letter and handler steps against a real
PostgreSQL and nothing else. Its fixture starts PostgreSQL alone (no broker: it asserts that
no Kafka port is open) in a folder of its own, migrates it, and stops it after the tier."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pytest

from infra.init import migrate
from infra.paths import state_root
from infra.postgres.server import PostgresServer
from infra.settings import suite_settings
from tests.support.db import Db

PORT_OFFSET = 2  # beside the suite's PostgreSQL (+1 is the bench's)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="package")
def admin_url() -> Iterator[str]:
    settings = suite_settings()
    kafka_ports = (settings.kafka_port, settings.kafka_port + 1)  # client, controller
    assert not any(_listening(p) for p in kafka_ports), (
        f"the PostgreSQL-only tier found a broker on {kafka_ports}: run tests/db before any tier "
        "that starts one (pyproject's testpaths order does)"
    )
    home = state_root() / "test-db"
    shutil.rmtree(home, ignore_errors=True)
    server = PostgresServer(home / "postgres", settings.pg_port + PORT_OFFSET)
    try:
        server.start()
        migrate(server.url)
        yield server.url
        assert not any(_listening(p) for p in kafka_ports), "a broker started during the tier"
    finally:
        server.stop()


@pytest.fixture(scope="package")
def db(admin_url: str) -> Db:
    return Db(admin_url)
