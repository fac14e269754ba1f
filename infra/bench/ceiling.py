"""The no-framework ceiling: our delivery semantics with none of the product logic.

One process per consumer group (the bench starts three), each looping:
confluent-kafka ``consume(20000)`` → orjson → ``COPY`` (text) straight into the table → DB commit
→ offset commit (synchronous). A batch that holds an event already stored (a redelivery after a
crash between the two commits) fails on the primary key, is rolled back and is written the
staged way instead — ``COPY`` into a per-connection temp table, ``INSERT … SELECT … ON CONFLICT
DO NOTHING`` — so duplicates are absorbed exactly as before. At-least-once and idempotent like
our services; no validation, dead letters, conflict detection, progress or handler tables. Run
as ``python -m infra.bench.ceiling GROUP TABLE`` with KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL and
EVENTS_TOPIC set; it runs until SIGTERM. Settable for a run (``python -m infra.bench.sweep``):
CEILING_BATCH, CEILING_COPY (text or binary), CEILING_WRITE (copy-first or staged),
CEILING_KAFKA_<NAME> (any librdkafka setting: CEILING_KAFKA_FETCH_MIN_BYTES is fetch.min.bytes).

How the defaults were chosen: each a sweep on one backlog, medians of 2–3 rounds, events/s and
CPU µs per event (three processes + broker + PostgreSQL) on the 2-core machine, shared with
other work (so the rates move; the CPU is steadier):

- the previous ceiling (binary COPY of values typed in Python, staged, batches of 5,000):
  33,682/s, 47 µs (300,000 events) — PostgreSQL ~21 µs of it, each process ~7;
- batches of 1,000 / 5,000 / 20,000, staged: 28,492 / 30,456 / 41,173/s, 60 / 49 / 45 µs
  (100,000 events): larger transactions are cheaper up to about 5,000, little after;
- librdkafka fetch sizes (fetch.min.bytes 1 MiB with fetch.wait.max.ms 100, or
  max.partition.fetch.bytes 8–10 MiB with queued.max.messages.kbytes 256 MiB): no gain in any
  sweep (45.0 vs 44.8 µs staged; 35.0 and 32.0 vs 28.7 µs COPY-first): librdkafka's defaults
  already fetch ahead of a consumer this fast, so they stay;
- JSON parsed by PostgreSQL (the raw value COPYed as bytea, ``::jsonb``, ``->>``): 22,041/s,
  82 µs vs 40,342/s, 45 µs — jsonb's parse costs far more than orjson's; dropped;
- COPY-first instead of staged: PostgreSQL's share halves (21 → 8–11 µs; no temp table, no
  second pass, no ON CONFLICT probe): 56,784/s, 31.7 µs (300,000 events);
- and text COPY (the values as JSON gave them, typed by PostgreSQL; each process 6 → 3.5 µs,
  PostgreSQL +3): 58,248/s, 28.6 µs;
- and batches of 20,000: 61,519/s, 28.1 µs; 50,000 no better by CPU (28.8 vs 28.7 µs, and
  35.1 vs 31.0 µs in a third sweep under heavier load).

Left alone: anything that changes what is guaranteed (an unlogged table, asynchronous commit,
offsets committed before the rows).
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import FrameType

import orjson
import psycopg
from confluent_kafka import Consumer, KafkaError, Message

from shared.kafka_auth import identity

# The defaults, the fastest of the sweeps above; each can be set for a run (see ``settings``).
BATCH = 20_000
KAFKA_DEFAULTS: dict[str, str] = {}  # librdkafka's own: no fetch size beat them
COPY = "text"  # CEILING_COPY: text (typed by PostgreSQL) or binary (typed in Python)
WRITE = "copy-first"  # CEILING_WRITE: copy-first (staged on a duplicate) or staged
COLUMNS = ("event_id", "event_type", "event_time", "user_id", "amount", "partition", "kafka_offset")
TYPES = ("uuid", "text", "timestamptz", "text", "numeric", "int4", "int8")
KAFKA_PREFIX = "CEILING_KAFKA_"
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
    conn.execute("SET TIME ZONE 'UTC'")  # CEILING_COPY=text: a zone-less time is UTC
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


def text_row(msg: Message) -> tuple[object, ...]:
    """CEILING_COPY=text: the values as their text, parsed by PostgreSQL (a zone-less time is
    UTC there too: the session's zone)."""
    e = orjson.loads(msg.value())  # type: ignore[arg-type]
    amount, t = e.get("amount"), e["event_datetime"]
    return (
        e["event_id"],
        e["event_type"],
        event_time(t).isoformat() if len(t) == 19 and t[10] == "-" else t,
        e.get("user_id"),
        None if amount is None else str(amount),
        msg.partition(),
        msg.offset(),
    )


def copy_rows(conn: psycopg.Connection, target: str, rows: list[tuple[object, ...]]) -> None:
    text = isinstance(rows[0][0], str)
    sql = f"COPY {target} ({', '.join(COLUMNS)}) FROM STDIN" + ("" if text else " (FORMAT BINARY)")
    with conn.cursor() as cur, cur.copy(sql) as copy:
        if not text:
            copy.set_types(list(TYPES))
        for r in rows:
            copy.write_row(r)


def write(conn: psycopg.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    copy_rows(conn, "staging", rows)
    cols = ", ".join(COLUMNS)
    conn.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM staging ON CONFLICT DO NOTHING")
    conn.commit()


def write_first(conn: psycopg.Connection, table: str, rows: list[tuple[object, ...]]) -> None:
    """COPY straight into the table; a batch holding an event already there (a redelivery)
    fails on the primary key, is rolled back and goes the staged way: duplicates absorbed."""
    try:
        copy_rows(conn, table, rows)
        conn.commit()
    except psycopg.errors.UniqueViolation:
        conn.rollback()
        write(conn, table, rows)


def settings(env: Mapping[str, str]) -> tuple[int, dict[str, str]]:
    """The batch size (``CEILING_BATCH``) and librdkafka's fetch settings: the defaults, each
    overridden by ``CEILING_KAFKA_<NAME>`` (``CEILING_KAFKA_FETCH_MIN_BYTES`` sets
    ``fetch.min.bytes``)."""
    batch = int(env.get("CEILING_BATCH", BATCH))
    kafka = dict(KAFKA_DEFAULTS)
    for key, value in env.items():
        if key.startswith(KAFKA_PREFIX):
            kafka[key.removeprefix(KAFKA_PREFIX).lower().replace("_", ".")] = value
    return batch, kafka


def run(group: str, table: str) -> None:
    batch, tuning = settings(os.environ)
    to_row = text_row if os.environ.get("CEILING_COPY", COPY) == "text" else row
    to_table = write_first if os.environ.get("CEILING_WRITE", WRITE) == "copy-first" else write
    consumer = Consumer(
        {
            "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
            **(auth.librdkafka() if (auth := identity()) else {}),  # KAFKA_USERNAME, ...
            **tuning,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([os.environ.get("EVENTS_TOPIC", "multi-app-events")])
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        create_table(conn, table)
        while not _stop:
            msgs = consumer.consume(batch, timeout=0.5)
            rows = [to_row(m) for m in msgs if m.error() is None]
            errors = [m.error() for m in msgs if m.error() is not None]
            if any(e.code() != KafkaError._PARTITION_EOF for e in errors):  # type: ignore[union-attr]
                print(f"{group}: {errors}", file=sys.stderr, flush=True)
            if not rows:
                continue
            to_table(conn, table, rows)  # DB commit first, offsets after: at-least-once
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
