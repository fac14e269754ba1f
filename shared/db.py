"""Database engines (SQLAlchemy 2 on psycopg 3). URLs in settings are plain postgresql://."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def driver_url(url: str) -> str:
    """postgresql://… → postgresql+psycopg://… (psycopg 3, sync and async alike)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url


def async_engine(url: str, pool_size: int = 4) -> AsyncEngine:
    # pool_pre_ping: after a database restart, stale connections are replaced, not used.
    return create_async_engine(driver_url(url), pool_size=pool_size, pool_pre_ping=True)


def sync_engine(url: str) -> Engine:
    return create_engine(driver_url(url), pool_pre_ping=True)


class _Lenient:
    """A timestamp the driver cannot represent (past year 9999 or before year 1 in UTC, or
    ±infinity) reads as None instead of failing the whole query: the read side answers,
    whatever an old row holds, and shows that one value as unknown."""

    def load(self, data: Buffer) -> Any:
        try:
            return super().load(data)  # type: ignore[misc]
        except psycopg.DataError:
            return None


class LenientTimestamptzLoader(_Lenient, TimestamptzLoader):
    pass


class LenientTimestamptzBinaryLoader(_Lenient, TimestamptzBinaryLoader):
    pass


psycopg.adapters.register_loader("timestamptz", LenientTimestamptzLoader)
psycopg.adapters.register_loader("timestamptz", LenientTimestamptzBinaryLoader)
