"""A database per service: billing lives on a PostgreSQL server of its own (a second local
cluster), analytics and audit on the suite's. Each applies every event once where it lives,
and the overview and `./fanout reconcile` read each service there (per-service reader URLs);
read in the wrong place, billing's committed offsets have nothing under them: a gap."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from infra.init import migrate
from infra.local.stack import Stack
from infra.polling import wait_for
from infra.postgres.server import PostgresServer
from tests.support.db import Db, counters, role_url
from tests.support.kafka import PARTITIONS, new_topic, published
from tests.support.processes import free_port, running_services
from tests.support.publishing import publish_events
from tests.support.reconcile import run_reconcile, wait_reconciled
from tests.support.web import get_json

EVENTS = 2_000


@pytest.fixture
def billing_server(stack: Stack) -> Iterator[PostgresServer]:
    """A second cluster, migrated like the first (each service writes only to its own)."""
    server = PostgresServer(stack.home / "postgres-billing", free_port())
    server.start()
    try:
        migrate(server.url)
        yield server
    finally:
        server.stop()


def test_each_service_is_read_where_it_lives(
    stack: Stack, clean_db: Db, billing_server: PostgresServer
) -> None:
    db, bootstrap, own = clean_db, stack.bootstrap, Db(billing_server.url)
    topic = new_topic(bootstrap, "db-per-service", PARTITIONS)
    suffix = topic.rsplit("-", 1)[-1]
    groups = {s: f"{s}-{suffix}" for s in ("analytics", "billing", "audit")}
    publish_events(bootstrap, topic, EVENTS, seed=2501)
    urls = {"billing": billing_server.reader_url}
    publisher_env = {
        "CONSUMER_GROUPS": json.dumps(groups),
        "READER_DATABASE_URL": stack.reader_url,
        "READER_DATABASE_URLS": json.dumps(urls),
        "PUBLISH_RATE": "0.001",  # one event now, the next in 1000 s
    }
    billing_url = role_url(billing_server.url, "billing")
    with (
        running_services(stack, topic, ("analytics", "audit")) as here,
        running_services(stack, topic, ("billing",), DATABASE_URL=billing_url),
        running_services(stack, topic, ("publisher",), **publisher_env) as pub,
    ):
        wait_for(lambda: published(bootstrap, topic) == EVENTS + 1, timeout=60, what="one more")
        for name, p in here.items():
            wait_reconciled(db, bootstrap, topic, name, p.group, EVENTS + 1)
        wait_reconciled(own, bootstrap, topic, "billing", groups["billing"], EVENTS + 1)
        overview = get_json(pub["publisher"].port, "/api/overview")

    assert own.progress_sums("billing") == counters(EVENTS + 1)
    assert (db.inbox_count("billing"), own.inbox_count("analytics")) == (0, 0)
    seen = {s["service"]: (s["persisted"], s["reconciled"]) for s in overview["services"]}
    assert seen == dict.fromkeys(groups, (EVENTS + 1, True))

    where = ("--service-database-url", f"billing={billing_server.reader_url}")
    done = run_reconcile(stack.reader_url, bootstrap, topic, groups, *where)
    assert done.returncode == 0, done.stdout + done.stderr
    wrong = run_reconcile(stack.reader_url, bootstrap, topic, groups)  # billing's not there
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "gap in billing" in wrong.stdout
