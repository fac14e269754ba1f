"""audit's migration 0007 moves rows: each event row into its inbox row, and back on downgrade.
Run on a database of its own, at 0006 with rows written the 0006 way, against PostgreSQL alone."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.config import Config

from infra.paths import ROOT
from shared.db import driver_url
from tests.support.db import Db

SCRATCH = "audit_migration_check"
IDS = ("00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002")
EVENTS = (  # (event_id, event_type, payload, topic, partition, kafka_offset, delivery_count)
    (IDS[0], "buy", '{"a": "\\u00e9"}', "multi-app-events", 2, 7, 1),
    (IDS[1], "click", "{}", "redrive", 3, 8, 3),
)
EVENT_ROW = "event_id::text, event_type, payload, topic, partition, kafka_offset, delivery_count"


@pytest.fixture
def scratch(admin_url: str) -> Iterator[tuple[Config, Db]]:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH}")
        conn.execute(f"CREATE DATABASE {SCRATCH}")
    url = admin_url.rsplit("/", 1)[0] + f"/{SCRATCH}"
    cfg = Config(str(ROOT / "infra" / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", driver_url(url).replace("%", "%%"))
    try:
        yield cfg, Db(url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {SCRATCH} WITH (FORCE)")


def _write_as_0006(db: Db) -> None:
    for i, (event_id, _, _, _, partition, offset, _) in enumerate(EVENTS):
        db.execute(
            "INSERT INTO audit.inbox (event_id, fingerprint, partition, kafka_offset, event_time)"
            " VALUES (%s, %s, %s, %s, now())",
            event_id, bytes([i]), partition, offset,
        )  # fmt: skip
    for row in EVENTS:
        db.execute(
            "INSERT INTO audit.events (event_id, event_type, payload, topic, partition,"
            " kafka_offset, delivery_count) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            *row,
        )
    db.execute(
        "INSERT INTO audit.redeliveries (event_id, topic, partition, kafka_offset)"
        " VALUES (%s, 'redrive', 3, 8), (%s, 'redrive', 3, 9)",
        IDS[1], IDS[1],
    )  # fmt: skip


def test_0007_keeps_every_event_row_and_delivery_both_ways(scratch: tuple[Config, Db]) -> None:
    cfg, db = scratch
    command.upgrade(cfg, "audit_0006")
    _write_as_0006(db)
    deliveries = db.all("SELECT id, event_id::text, kafka_offset, applied FROM audit.deliveries")
    assert len(deliveries) == 4

    command.upgrade(cfg, "audit_0007")
    assert db.all(f"SELECT {EVENT_ROW} FROM audit.events ORDER BY event_id") == list(EVENTS)
    assert db.count("audit.inbox", "last_seen IS NOT NULL AND delivery_seq IS NOT NULL") == 2
    assert db.count("audit.events", "first_seen IS NOT NULL") == 2
    assert (
        db.all("SELECT id, event_id::text, kafka_offset, applied FROM audit.deliveries")
        == deliveries
    )
    # A row written the 0007 way (the defaults number it after the rest).
    db.execute(
        "INSERT INTO audit.inbox (event_id, fingerprint, partition, kafka_offset, event_time,"
        " event_type, payload, topic) VALUES (gen_random_uuid(), '\\x02', 1, 1, now(), 'sell',"
        " '{}', 'multi-app-events')"
    )
    assert db.one("SELECT delivery_count FROM audit.events WHERE kafka_offset = 1") == 1
    assert db.one("SELECT max(id) = (SELECT delivery_seq FROM audit.events WHERE kafka_offset = 1)"
                  " FROM audit.deliveries")  # fmt: skip

    command.downgrade(cfg, "audit_0006")
    assert db.count("audit.events") == 3
    assert db.all(f"SELECT {EVENT_ROW} FROM audit.events WHERE kafka_offset > 1 ORDER BY event_id"
                  ) == list(EVENTS)  # fmt: skip
    assert db.count("audit.deliveries") == 5
