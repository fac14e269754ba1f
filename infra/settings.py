"""Settings of the ``./fanout`` process itself (ports, sizes); built once at start-up."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseSettings):
    """Where the local platform runs. ``./fanout test`` uses its own instance with other ports."""

    model_config = SettingsConfigDict(env_prefix="FANOUT_", extra="ignore")

    kafka_port: int = 9092
    brokers: int = Field(1, ge=1, le=5)
    pg_port: int = 55432
    partitions: int = Field(6, ge=1)
    replication: int = Field(1, ge=1)
    topic: str = "multi-app-events"
    # An external PostgreSQL; when set, no local cluster is started.
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    web_port: int = 6066  # analytics; billing, audit next; publisher one below


def test_settings() -> StackSettings:
    """The test stack: other ports so it can run beside ``./fanout up``."""
    return StackSettings(
        kafka_port=29092, pg_port=55433, web_port=16066, database_url=None,  # type: ignore[call-arg]
    )
