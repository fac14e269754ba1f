"""Read what the services persisted (admin connection; tests only read)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import psycopg

from services.analytics.tables import SCHEMA as ANALYTICS
from services.audit.tables import SCHEMA as AUDIT
from services.billing.tables import SCHEMA as BILLING

SCHEMAS = (ANALYTICS, BILLING, AUDIT)
TABLES = {
    ANALYTICS: ("inbox", "progress", "dead_letters", "type_minute_counts"),
    BILLING: ("inbox", "progress", "dead_letters", "ledger", "balances"),
    AUDIT: ("inbox", "progress", "dead_letters", "events", "deliveries"),
}


class Db:
    def __init__(self, url: str) -> None:
        self.url = url

    def one(self, sql: str, *args: object) -> object:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(sql, args).fetchone()  # type: ignore[arg-type]
            return row[0] if row else None

    def all(self, sql: str, *args: object) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, args).fetchall()  # type: ignore[arg-type]

    def execute(self, sql: str, *args: object) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(sql, args)  # type: ignore[arg-type]

    def truncate_services(self) -> None:
        tables = ", ".join(f"{s}.{t}" for s in SCHEMAS for t in TABLES[s])
        with psycopg.connect(self.url) as conn:
            conn.execute(f"TRUNCATE {tables}")

    def inbox_count(self, schema: str) -> int:
        return int(self.one(f"SELECT count(*) FROM {schema}.inbox"))  # type: ignore[arg-type]

    def progress_sums(self, schema: str) -> dict[str, int]:
        names = ("processed", "duplicates", "copies", "invalid")
        sums = ", ".join(f"coalesce(sum({n}), 0)" for n in names)
        row = self.all(f"SELECT {sums} FROM {schema}.progress")[0]
        return {n: int(v) for n, v in zip(names, row, strict=True)}

    def persisted_offsets(self, schema: str) -> dict[int, int]:
        return dict(self.all(f"SELECT partition, persisted_offset FROM {schema}.progress"))

    def analytics_totals(self) -> Counter[str]:
        rows = self.all(
            "SELECT event_type, sum(count) FROM analytics.type_minute_counts GROUP BY 1"
        )
        return Counter({t: int(n) for t, n in rows})

    def balances(self) -> dict[str, Decimal]:
        return dict(self.all("SELECT user_id, balance FROM billing.balances"))

    def redelivered(self) -> int:
        return int(self.one("SELECT coalesce(sum(delivery_count - 1), 0) FROM audit.events"))  # type: ignore[arg-type]
