"""PostgreSQL as the tests read it: the admin connection (tests only read, or set up a fault),
the URL of each role, and CHECK constraints that make the next writes fail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from shared.db import adapt
from shared.secret_files import derived_password
from tests.support.catalog import SERVICES

COUNTERS = ("processed", "duplicates", "copies", "invalid", "skipped")
# Set by now() when a row is written: not part of what a batch decides.
WRITTEN_AT = ("persisted_at", "updated_at", "dead_at", "first_seen", "last_seen", "delivered_at")


def counters(
    processed: int, duplicates: int = 0, copies: int = 0, invalid: int = 0, skipped: int = 0
) -> dict:
    """Progress sums as ``Db.progress_sums`` returns them."""
    return dict(zip(COUNTERS, (processed, duplicates, copies, invalid, skipped), strict=True))


def role_url(admin_url: str, role: str, password: str | None = None) -> str:
    """The admin URL with another role's credentials (by default the local runner's: derived
    from the admin password)."""
    parts = urlsplit(admin_url)
    secret = password or derived_password(parts.password or "", role)
    netloc = f"{role}:{secret}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class Db:
    def __init__(self, url: str) -> None:
        self.url = url

    def connect(self) -> psycopg.Connection[Any]:
        """A connection that reads what the services' engines read (shared.db's adapters)."""
        conn = psycopg.connect(self.url)
        adapt(conn)
        return conn

    def one(self, sql: str, *args: object) -> Any:
        with self.connect() as conn:
            row = conn.execute(sql, args).fetchone()  # type: ignore[arg-type]
            return row[0] if row else None

    def all(self, sql: str, *args: object) -> list[tuple]:
        with self.connect() as conn:
            return conn.execute(sql, args).fetchall()  # type: ignore[arg-type]

    def execute(self, sql: str, *args: object) -> None:
        with self.connect() as conn:
            conn.execute(sql, args)  # type: ignore[arg-type]

    def count(self, table: str, where: str = "true") -> int:
        return int(self.one(f"SELECT count(*) FROM {table} WHERE {where}"))

    def truncate_services(self) -> None:
        """Every table of the services' schemas (the migrations' own bookkeeping lives
        elsewhere), whatever tables a service adds."""
        tables = self.all(
            "SELECT format('%%I.%%I', table_schema, table_name) FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE'",
            list(SERVICES),
        )
        self.execute(f"TRUNCATE {', '.join(t for (t,) in tables)}")

    def snapshot(self, schema: str, *ignore: str) -> dict[str, list[tuple]]:
        """Every row of every table of ``schema`` in a fixed order, without write times and
        without the tables or columns named in ``ignore``."""
        tables = self.all(
            "SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_schema = %s "
            "AND NOT column_name = ANY(%s) AND NOT table_name = ANY(%s) GROUP BY table_name",
            schema,
            [*WRITTEN_AT, *ignore],
            list(ignore),
        )
        out = {}
        for table, columns in tables:
            order = ", ".join(str(i) for i in range(1, len(columns) + 1))
            sql = f"SELECT {', '.join(columns)} FROM {schema}.{table} ORDER BY {order}"
            out[table] = self.all(sql)
        return out

    def inbox_count(self, schema: str) -> int:
        return self.count(f"{schema}.inbox")

    def event_ids(self, table: str) -> set[str]:
        return {str(i) for (i,) in self.all(f"SELECT event_id FROM {table}")}

    def progress_sums(self, schema: str) -> dict[str, int]:
        sums = ", ".join(f"coalesce(sum({n}), 0)" for n in COUNTERS)
        row = self.all(f"SELECT {sums} FROM {schema}.progress")[0]
        return {n: int(v) for n, v in zip(COUNTERS, row, strict=True)}

    def persisted_offsets(self, schema: str, topic: str | None = None) -> dict[int, int]:
        """Per partition, the highest offset persisted (of ``topic``, or of every topic)."""
        sql = f"SELECT partition, persisted_offset FROM {schema}.progress"
        if topic is None:
            return dict(self.all(sql))
        return dict(self.all(f"{sql} WHERE topic = %s", topic))

    def stored_offsets(self, schema: str, group: str, topic: str) -> dict[int, int]:
        """OFFSET_STORE=database: per partition, the next offset the group's row holds."""
        return dict(
            self.all(
                f"SELECT partition, next_offset FROM {schema}.offsets "
                "WHERE group_id = %s AND topic = %s",
                group,
                topic,
            )
        )

    def analytics_totals(self) -> Counter[str]:
        rows = self.all(
            "SELECT event_type, sum(count) FROM analytics.type_minute_counts GROUP BY 1"
        )
        return Counter({t: int(n) for t, n in rows})

    def balances(self) -> dict[str, Decimal]:
        return dict(self.all("SELECT user_id, balance FROM billing.balances"))

    def redelivered(self) -> int:
        return int(self.one("SELECT coalesce(sum(delivery_count - 1), 0) FROM audit.events"))

    def dead_reasons(self, schema: str) -> Counter[str]:
        return Counter(r for (r,) in self.all(f"SELECT reason FROM {schema}.dead_letters"))


@contextmanager
def check_constraint(db: Db, table: str, check: str) -> Iterator[None]:
    """A CHECK the next writes must pass (NOT VALID: rows already there are not checked)."""
    db.execute(f"ALTER TABLE {table} ADD CONSTRAINT test_refuses CHECK ({check}) NOT VALID")
    try:
        yield
    finally:
        db.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS test_refuses")
