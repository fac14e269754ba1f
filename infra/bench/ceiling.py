"""The no-framework ceiling: our delivery semantics with none of the product logic.

One process per consumer group (the bench starts three), each looping:
confluent-kafka ``consume(5000)`` → orjson → binary ``COPY`` into a per-connection temp table →
``INSERT … SELECT … ON CONFLICT DO NOTHING`` → DB commit → offset commit (synchronous).
At-least-once and idempotent like our services; no validation, dead letters, conflict
detection, progress or handler tables. Run as
``python -m infra.bench.ceiling GROUP TABLE`` with KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and
EVENTS_TOPIC set; it runs until SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import FrameType

import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError, Message

from shared.kafka_auth import identity

BATCH = 5000
COLUMNS = ("event_id", "event_type", "event_time", "user_id", "amount", "partition", "kafka_offset")
TYPES = ("uuid", "text", "timestamptz", "text", "numeric", "int4", "int8")
SEED_FORMAT = "%Y-%m-%d-%H-%M-%S"
_stop = False


def create_table(conn: psycopg.Connection, table: str) -> None:
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (event_id uuid PRIMARY KEY, event_type text NOT NULL,"
        " event_time timestamptz NOT NULL, user_id text, amount numeric(12, 2),"
        " partition int NOT NULL, kafka_offset bigint NOT NULL)"
    )
    # Per connection; emptied by every commit, so each batch starts from an empty staging table.
    conn.execute(f"CREATE TEMP TABLE staging (LIKE {table}) ON COMMIT DELETE ROWS")
    conn.commit()


def event_time(value: str) -> datetime:
    if len(value) == 19 and value[10] == "-":
        return datetime.strptime(value, SEED_FORMAT).replace(tzinfo=UTC)
    t = datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def row(msg: Message) -> tuple[object, ...]:
    e = orjson.loads(msg.value())  # type: ignore[arg-type]
    amount = e.get("amount")
    return (
        uuid.UUID(e["event_id"]),
        e["event_type"],
        event_time(e["event_datetime"]),
        e.get("user_id"),
        None if amount is None else Decimal(str(amount)),
        msg.partition(),
        msg.offset(),
    )


def write(conn: psycopg.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    with conn.cursor() as cur:
        cols = ", ".join(COLUMNS)
        with cur.copy(f"COPY staging ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(TYPES))
            for r in rows:
                copy.write_row(r)
        cur.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM staging ON CONFLICT DO NOTHING"
        )
    conn.commit()


def run(group: str, table: str) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            **(auth.librdkafka() if (auth := identity()) else {}),  # KAFKA_USERNAME, ...
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([os.environ.get("EVENTS_TOPIC", "multi-app-events")])
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        create_table(conn, table)
        while not _stop:
            msgs = consumer.consume(BATCH, timeout=0.5)
            rows = [row(m) for m in msgs if m.error() is None]
            errors = [m.error() for m in msgs if m.error() is not None]
            if any(e.code() != KafkaError._PARTITION_EOF for e in errors):  # type: ignore[union-attr]
                print(f"{group}: {errors}", file=sys.stderr, flush=True)
            if not rows:
                continue
            write(conn, table, rows)  # DB commit first, offsets after: at-least-once
            consumer.commit(asynchronous=False)
    consumer.close()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    global _stop
    _stop = True


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    run(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    main()
