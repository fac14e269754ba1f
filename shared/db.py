"""Database engines (SQLAlchemy 2 on psycopg 3). URLs in settings are plain postgresql://."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from shared import bulk

READ_STATEMENT_TIMEOUT_MS = 3000  # the publisher's overview; services: their settings
READ_POOL_WAIT_S = 2.0  # a page read waits this long for a free connection, then 503
READ_APPLICATION = "fanout-dashboard"  # pg_stat_activity tells the dashboards' sessions apart
# The database is unavailable or busy: wait and try the same transaction again.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, PoolTimeout, OSError)


def driver_url(url: str) -> str:
    """postgresql://… → postgresql+psycopg://… (psycopg 3, sync and async alike)."""
    scheme, rest = url.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgresql", "postgres") else url


def async_engine(url: str, pool_size: int = 4, pre_ping: bool = True) -> AsyncEngine:
    """``pre_ping``: after a database restart, stale connections are replaced, not used. The
    consume loop turns it off: the ping is a round trip per transaction (at 2,000 events/s,
    dozens a second per service), and its transactions are retried anyway, on a fresh
    connection (a disconnect invalidates the pool's)."""
    engine = create_async_engine(driver_url(url), pool_size=pool_size, pool_pre_ping=pre_ping)
    event.listen(engine.sync_engine, "connect", _adapt)
    return engine


def read_engine(url: str, pool_size: int, statement_timeout_ms: int) -> AsyncEngine:
    """The dashboards' own pool, apart from the consume loop's: at most ``pool_size``
    connections (no overflow: a burst of page reads queues here, briefly, instead of opening
    more sessions), each statement cut off by the server after ``statement_timeout_ms``. So
    however many heavy GETs arrive, they hold at most ``pool_size`` sessions for at most that
    long each, and the consume loop's own connections are never theirs to take."""
    engine = create_async_engine(
        driver_url(url),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=READ_POOL_WAIT_S,
        pool_pre_ping=True,
        connect_args={
            "options": f"-c statement_timeout={int(statement_timeout_ms)}",
            "application_name": READ_APPLICATION,
        },
    )
    event.listen(engine.sync_engine, "connect", _adapt)  # the kit's adapters, as every engine
    return engine


def while_db_unavailable(on_retry: Callable[[BaseException | None], None]) -> AsyncRetrying:
    """Retry with backoff (0.2 s doubling to 5 s) while the database is unavailable; any
    other error is raised at once."""

    def before_sleep(state: RetryCallState) -> None:
        on_retry(state.outcome.exception() if state.outcome else None)

    return AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT_DB_ERRORS),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=before_sleep,
        reraise=True,
    )


def sync_engine(url: str) -> Engine:
    engine = create_engine(driver_url(url), pool_pre_ping=True)
    event.listen(engine, "connect", _adapt)
    return engine


def _adapt(dbapi_connection: Any, record: object) -> None:
    del record
    adapt(getattr(dbapi_connection, "driver_connection", dbapi_connection))


def adapt(connection: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """Teach a connection the kit's adapters (every engine here does it on connect) — never
    psycopg's global map, so importing the kit changes no other code's connections."""
    adapters = connection.adapters
    adapters.register_loader("timestamptz", LenientTimestamptzLoader)
    adapters.register_loader("timestamptz", LenientTimestamptzBinaryLoader)
    bulk.register(adapters)


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
