"""Batch writes as one statement with one array per column (``INSERT … SELECT FROM unnest``).

A 2,000-event batch costs one round trip and one small, cached statement, instead of a
multi-row VALUES list that is rebuilt, re-parsed and re-planned for every batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.types.array import ListBinaryDumper
from sqlalchemy.dialects.postgresql import ARRAY, Insert, insert
from sqlalchemy.types import TypeEngine


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


psycopg.adapters.register_dumper(BinaryArray, ListBinaryDumper)


def arrays(**columns: Iterable[object]) -> dict[str, BinaryArray]:
    """Parameters of a bulk statement: one binary array per column."""
    return {name: BinaryArray(values) for name, values in columns.items()}
