"""Retention: a service's dead letters, and the history tables it names (audit's deliveries),
are kept ``RETENTION_HOURS`` and then deleted by the service itself, every
``RETENTION_INTERVAL_S``, a bounded batch per transaction (short locks, little WAL at once).

Reconciliation does not count rows of these tables: ``invalid`` is a counter in ``progress``,
and audit's totals are ``events.delivery_count``. The one thing a deleted dead letter did was
make a redelivered bad event a repeat (its row's key was taken); ``progress.record`` now counts
a dead letter only past the partition's persisted offset, so a replay after a delete counts
nothing twice and reconcile stays exact.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
BATCH_ROWS = 5000
STATEMENT_TIMEOUT_MS = 30_000


def retained_tables(extra: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(table, time column) kept for the retention time: dead letters, then ``extra``."""
    return [("dead_letters", "dead_at"), *extra]


def _delete(schema: str, table: str, column: str) -> sa.TextClause:
    # Names are the code's own (the service's schema and tables), never input.
    return sa.text(
        f"DELETE FROM {schema}.{table} WHERE ctid = ANY(ARRAY("
        f"SELECT ctid FROM {schema}.{table} WHERE {column} < now() - make_interval(secs => :s)"
        f" LIMIT :n))"
    )


async def prune(
    engine: AsyncEngine,
    schema: str,
    tables: Iterable[tuple[str, str]],
    hours: float,
    batch: int = BATCH_ROWS,
) -> dict[str, int]:
    """Delete rows older than ``hours`` from each table; rows deleted, per table."""
    deleted: dict[str, int] = {}
    for table, column in tables:
        stmt, total = _delete(schema, table, column), 0
        while True:
            async with engine.begin() as conn:
                await conn.execute(sa.text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                done = (await conn.execute(stmt, {"s": hours * 3600, "n": batch})).rowcount
            total += done
            if done < batch:
                break
        deleted[table] = total
    return deleted


async def prune_quietly(
    engine: AsyncEngine, schema: str, tables: Iterable[tuple[str, str]], hours: float
) -> None:
    """One periodic pass: a failure is logged and tried again at the next one (the consume
    loop never depends on it)."""
    try:
        deleted = await prune(engine, schema, tables, hours)
    except Exception as exc:  # noqa: BLE001 - any failure waits for the next pass
        log.warning("retention: %s not pruned now: %r", schema, exc)
        return
    if any(deleted.values()):
        log.info("retention: deleted %s (older than %s h)", deleted, hours)
