"""Rows in bulk through binary COPY: into a temporary table, then one set-based INSERT … SELECT
where conflicts are possible (the inbox), or straight into the table where they are not.

Per event, the biggest cost of a service used to be its own parameters: a binary array per
column, which psycopg builds element by element in Python (a fifth of a service's CPU in a
profile). COPY formats each row in C. The temporary table belongs to the connection and is
emptied at every commit (``ON COMMIT DELETE ROWS``); creating it ``IF NOT EXISTS`` in each
transaction costs one catalog lookup and survives a rolled-back first transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

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
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        try:
            return await self._execute(raw, rows)
        except psycopg.Error as exc:
            raise DBAPIError.instance(self.sql, None, exc, psycopg.Error) from exc

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
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        try:
            async with raw.cursor(binary=True) as cursor, cursor.copy(self.copy) as copy:
                copy.set_types(self.types)
                for row in rows:
                    await copy.write_row(row)
        except psycopg.Error as exc:
            raise DBAPIError.instance(self.copy, None, exc, psycopg.Error) from exc
