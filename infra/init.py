"""compose.yml's one-shot ``init``: the topic, explicitly, and the Alembic migrations."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.paths import ROOT
from shared.broker import ensure_events_topic
from shared.db import driver_url


class InitSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    kafka_bootstrap_servers: str
    database_url: str  # the admin role: migrations create schemas and roles
    events_topic: str = "multi-app-events"
    partitions: int = Field(6, ge=1, validation_alias="FANOUT_PARTITIONS")
    replication: int = Field(1, ge=1, validation_alias="FANOUT_REPLICATION")


def migrate(admin_url: str) -> None:
    cfg = Config(str(ROOT / "infra" / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", driver_url(admin_url).replace("%", "%%"))
    command.upgrade(cfg, "heads")


def run_init() -> None:
    s = InitSettings()  # type: ignore[call-arg]
    created = asyncio.run(
        ensure_events_topic(s.kafka_bootstrap_servers, s.events_topic, s.partitions, s.replication)
    )
    print(f"topic {s.events_topic}: {'created' if created else 'exists'}")
    migrate(s.database_url)
    print("migrations: at head")
