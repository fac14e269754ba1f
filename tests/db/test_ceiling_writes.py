"""The ceiling's write paths (infra/bench/ceiling.py) against PostgreSQL: binary or text COPY,
staged or COPY-first, they store the same rows and absorb a redelivered batch (and a duplicate
within one batch) alike."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import cast

import orjson
import psycopg
import pytest
from confluent_kafka import Message

from infra.bench import ceiling

Row = Callable[[Message], tuple[object, ...]]
Write = Callable[[psycopg.Connection, str, list[tuple[object, ...]]], None]


class FakeMessage:
    def __init__(self, value: dict[str, object], offset: int) -> None:
        self._value, self._offset = orjson.dumps(value), offset

    def value(self) -> bytes:
        return self._value

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset


def messages(first: int, count: int) -> list[Message]:
    out = []
    for i in range(first, first + count):
        value: dict[str, object] = {
            "event_id": str(uuid.UUID(int=i + 1)),
            "event_type": "buy" if i % 2 else "click",
            # The seed's format, ISO with a zone and without (UTC), and amounts of each JSON type.
            "event_datetime": ("2026-12-02-04-25-21", "2026-12-02T04:25:21.5Z",
                               "2026-12-02T04:25:21")[i % 3],
            "user_id": f"user-{i:04d}",
            "amount": (None, "11.33", 7.5)[i % 3],
        }  # fmt: skip
        out.append(cast(Message, FakeMessage(value, i)))
    return out


@pytest.mark.parametrize("to_row", [ceiling.row, ceiling.text_row], ids=["binary", "text"])
@pytest.mark.parametrize("write", [ceiling.write, ceiling.write_first], ids=["staged", "first"])
def test_a_redelivered_batch_is_absorbed_and_the_rows_are_the_same(
    admin_url: str, to_row: Row, write: Write
) -> None:
    table = f"ceiling_{to_row.__name__}_{write.__name__}"
    with psycopg.connect(admin_url) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        ceiling.create_table(conn, table)
        write(conn, table, [to_row(m) for m in messages(0, 6)])
        # 3 again, 3 new, one of them twice in the batch (a producer's retry)
        write(conn, table, [to_row(m) for m in messages(3, 6) + messages(8, 1)])
        got = conn.execute(
            f"SELECT event_id, event_type, event_time, user_id, amount, kafka_offset FROM {table}"
            " ORDER BY kafka_offset"
        ).fetchall()
        with psycopg.connect(admin_url) as other:  # the reference: staged binary, one batch
            other.execute("DROP TABLE IF EXISTS ceiling_reference")
            ceiling.create_table(other, "ceiling_reference")
            ceiling.write(other, "ceiling_reference", [ceiling.row(m) for m in messages(0, 9)])
            want = other.execute(
                "SELECT event_id, event_type, event_time, user_id, amount, kafka_offset"
                " FROM ceiling_reference ORDER BY kafka_offset"
            ).fetchall()
    assert len(got) == 9 and got == want
