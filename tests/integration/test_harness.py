"""The harness is real: a Kafka broker that stores and serves, a PostgreSQL that persists."""

from __future__ import annotations

import asyncio

import psycopg

from infra.local.stack import Stack
from tests.support.kafka import committed, consume_all, ends, new_topic, produce, unique


def test_produce_consume_round_trip_commits_offsets(bootstrap: str) -> None:
    topic = new_topic(bootstrap, "harness", partitions=3)
    group = unique("harness-group")
    values = [f"event-{i}".encode() for i in range(300)]

    assert asyncio.run(produce(bootstrap, topic, values)) == 300
    got = asyncio.run(consume_all(bootstrap, topic, group, expected=300))

    assert sorted(got) == sorted(values)
    log_end = ends(bootstrap, topic)
    assert sum(log_end.values()) == 300
    # Offsets read back from the broker: the group committed exactly the log end everywhere.
    assert committed(bootstrap, group, topic) == log_end


def test_postgres_round_trip(admin_url: str) -> None:
    table = unique("harness").replace("-", "_")
    with psycopg.connect(admin_url) as conn:
        conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note text)")
        conn.execute(f"INSERT INTO {table} VALUES (1, 'one'), (2, 'two')")
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute(f"SELECT id, note FROM {table} ORDER BY id").fetchall()
        conn.execute(f"DROP TABLE {table}")
    assert rows == [(1, "one"), (2, "two")]


def test_broker_restart_keeps_data(stack: Stack) -> None:
    bootstrap = stack.bootstrap
    topic = new_topic(bootstrap, "durable", partitions=2)
    values = [f"kept-{i}".encode() for i in range(50)]
    assert asyncio.run(produce(bootstrap, topic, values)) == 50

    stack.kafka.stop()
    stack.kafka.start()

    got = asyncio.run(consume_all(bootstrap, topic, unique("after-restart"), expected=50))
    assert sorted(got) == sorted(values)
