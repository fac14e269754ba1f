"""Database engines (SQLAlchemy 2 on psycopg 3). URLs in settings are plain postgresql://."""

from __future__ import annotations

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
