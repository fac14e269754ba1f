"""compose.yml's one-shot ``init``: the topic, explicitly, and the Alembic migrations."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config

from infra.paths import ROOT
from infra.settings import InitSettings
from shared.broker import ensure_events_topic
from shared.db import driver_url


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
