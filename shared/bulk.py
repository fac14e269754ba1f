"""Writing rows in bulk, one rule: **rows that scale with the batch's events go through binary
COPY; rows that scale with its partitions or keys go as one ``unnest`` statement.**

- *COPY* (``DirectCopy``, ``Stage`` + ``StagedInsert``): the inbox claim (a row per event),
  audit's events and deliveries, billing's ledger. psycopg formats each COPY row in C; binary
  arrays are built element by element in Python, which cost a fifth of a service's CPU when
  these rows went as arrays (123 → 95 µs of CPU per fanned-out event once they moved, README's
  Throughput). An insert that cannot conflict (the inbox already told new events from seen
  ones) COPYs straight into its table; one that can (``ON CONFLICT``, ``RETURNING``) COPYs into
  a per-connection temporary stage (``ON COMMIT DELETE ROWS``; ``CREATE … IF NOT EXISTS`` in
  each transaction costs one catalog lookup and survives a rolled-back first transaction) and
  runs one set-based ``INSERT … SELECT``.
- *unnest* (``bulk_insert``, ``unnest`` with ``arrays``): per-partition progress, analytics'
  counts and billing's balances (aggregated per key first), dead letters (rare). A handful of
  rows: one round trip and one small cached statement, no stage to create — where COPY's
  fixed cost (a temporary table, two statements) would outweigh its per-row gain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.adapt import AdaptersMap
from psycopg.types.array import ListBinaryDumper
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

# COPY's binary format needs each column's type by name; ours are these (order matters:
# BigInteger is an Integer).
_COPY_TYPES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Uuid, "uuid"),
    (sa.LargeBinary, "bytea"),
    (sa.BigInteger, "int8"),
    (sa.Integer, "int4"),
    (sa.DateTime, "timestamptz"),
    (sa.Numeric, "numeric"),
    (sa.Boolean, "bool"),
    (sa.Text, "text"),
)
_DIALECT = postgresql.psycopg.dialect()  # type: ignore[attr-defined]


def _copy_type(column: sa.Column[Any]) -> str:
    return next(name for kind, name in _COPY_TYPES if isinstance(column.type, kind))


class Stage:
    """Rows bound for ``table``'s ``columns``. ``ordered``: applied in the order given (an
    identity column numbers them in that order)."""

    def __init__(self, table: sa.Table, columns: Sequence[str], ordered: bool = False) -> None:
        self.table, self.columns, self.ordered = table, tuple(columns), ordered
        self.name = f"stage_{table.schema}_{table.name}"
        cols = [table.c[c] for c in self.columns]
        ddl = ", ".join(f"{c.name} {c.type.compile(dialect=_DIALECT)}" for c in cols)
        self.create = (
            f"CREATE TEMP TABLE IF NOT EXISTS {self.name} ({ddl}, ord int) ON COMMIT DELETE ROWS"
        )
        names = ", ".join(self.columns)
        self.copy = (
            f"COPY {self.name} ({names}{', ord' if ordered else ''}) FROM STDIN (FORMAT BINARY)"
        )
        self.types = [_copy_type(c) for c in cols] + (["int4"] if ordered else [])

    def insert(self) -> Insert:
        """``INSERT INTO table (columns) SELECT columns FROM stage``: add ON CONFLICT and
        RETURNING to taste, then make it a :class:`StagedInsert`."""
        stage = sa.table(self.name, *(sa.column(c) for c in (*self.columns, "ord")))
        rows = sa.select(*(stage.c[c] for c in self.columns))
        if self.ordered:
            rows = rows.order_by(stage.c.ord)
        return insert(self.table).from_select(list(self.columns), rows)


class StagedInsert:
    """One statement over the stage's rows, compiled once."""

    def __init__(self, stage: Stage, statement: sa.ClauseElement, returns: bool = False) -> None:
        self.stage, self.returns = stage, returns
        self.sql = str(statement.compile(dialect=_DIALECT))

    async def execute(self, conn: AsyncConnection, rows: Iterable[Sequence[Any]]) -> list[Any]:
        """COPY ``rows`` in, run the statement in the open transaction; its RETURNING rows.
        Errors are SQLAlchemy's, as from any other statement (the loop tells poison from an
        unavailable database by them)."""
        async with _driver(conn, self.sql) as raw:
            return await self._execute(raw, rows)

    async def _execute(
        self, raw: psycopg.AsyncConnection[Any], rows: Iterable[Sequence[Any]]
    ) -> list[Any]:
        stage = self.stage
        async with raw.cursor(binary=True) as cursor:
            await cursor.execute(stage.create)
            async with cursor.copy(stage.copy) as copy:
                copy.set_types(stage.types)
                for row in rows:
                    await copy.write_row(row)
            await cursor.execute(self.sql)
            return await cursor.fetchall() if self.returns else []


class DirectCopy:
    """Rows COPYed straight into ``table``: for inserts that cannot conflict (the inbox has
    already told new events from seen ones), there is no need for a stage. Rows keep their
    order: an identity column numbers them as given."""

    def __init__(self, table: sa.Table, columns: Sequence[str]) -> None:
        names = ", ".join(columns)
        self.copy = f"COPY {table.schema}.{table.name} ({names}) FROM STDIN (FORMAT BINARY)"
        self.types = [_copy_type(table.c[c]) for c in columns]

    async def execute(self, conn: AsyncConnection, rows: Iterable[Sequence[Any]]) -> None:
        async with (
            _driver(conn, self.copy) as raw,
            raw.cursor(binary=True) as cursor,
            cursor.copy(self.copy) as copy,
        ):
            copy.set_types(self.types)
            for row in rows:
                await copy.write_row(row)


class Statement:
    """A statement the consume loop runs on every batch (an upsert of a handful of rows),
    compiled once and sent on the transaction's own driver connection, prepared on the server.
    Through ``AsyncConnection.execute`` each one cost ~0.13 ms of client CPU more (a greenlet
    switch, the cache key, the result's processing): at 2,000 events/s a batch holds ~20 events
    and two of these were a tenth of its CPU. Errors are SQLAlchemy's, as from ``execute``."""

    def __init__(self, statement: sa.ClauseElement) -> None:
        self.sql = str(statement.compile(dialect=_DIALECT))

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any]) -> None:
        async with _driver(conn, self.sql) as raw, raw.cursor() as cursor:
            await cursor.execute(self.sql, params, prepare=True)


@asynccontextmanager
async def _driver(conn: AsyncConnection, sql: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The open transaction's driver connection; the driver's errors in the block are raised
    as SQLAlchemy's, as from any other statement (the loop tells poison from an unavailable
    database by them)."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    try:
        yield raw
    except psycopg.Error as exc:
        raise await _raised(conn, raw, sql, exc) from exc


async def _raised(
    conn: AsyncConnection, raw: psycopg.AsyncConnection[Any], sql: str, exc: psycopg.Error
) -> StatementError:
    """The driver's error as SQLAlchemy's, as from any other statement; a connection it broke
    is invalidated, as SQLAlchemy does for its own statements, so the retry takes a fresh one
    (the consume loop's pool does not ping)."""
    if raw.broken:
        await conn.invalidate()
    return DBAPIError.instance(sql, None, exc, psycopg.Error)


# One statement with one array per column: ``INSERT … SELECT FROM unnest``.


def unnest(types: Mapping[str, TypeEngine[Any]]) -> sa.TableValuedAlias:
    """``unnest(CAST(:a AS type[]), CAST(:b AS type[]), …) AS (a, b, …)``: one row per index."""
    arrays = [sa.cast(sa.bindparam(name), ARRAY(t)) for name, t in types.items()]
    return sa.func.unnest(*arrays).table_valued(*types).render_derived()


def bulk_insert(table: sa.Table, columns: Sequence[str]) -> Insert:
    """INSERT INTO table (columns) SELECT * FROM unnest(...): add ON CONFLICT/RETURNING to taste."""
    rows = unnest({c: table.c[c].type for c in columns})
    return insert(table).from_select(list(columns), sa.select(*[rows.c[c] for c in columns]))


class BinaryArray(list):  # type: ignore[type-arg]
    """A list psycopg sends as a binary array. Text-format arrays escape every element with
    a regex (~17 µs per string); binary needs none: ~25x faster for a batch of payloads."""


def register(adapters: AdaptersMap) -> None:
    """Teach a connection's adapters the binary arrays (shared/db.py calls it on connect)."""
    adapters.register_dumper(BinaryArray, ListBinaryDumper)


def arrays(**columns: Iterable[object]) -> dict[str, BinaryArray]:
    """Parameters of a bulk statement: one binary array per column."""
    return {name: BinaryArray(values) for name, values in columns.items()}
