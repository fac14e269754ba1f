"""The local platform: broker(s), database, topic, schema — and the service processes.

Used by ``./fanout up`` (state in .state/up) and by the test fixtures (state in .state/test),
so both run the very same start-up path.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from infra.kafka.server import KafkaCluster
from infra.local.users import Account, service_account
from infra.paths import state_root
from infra.postgres.server import PostgresServer
from infra.settings import StackSettings
from shared.broker import ensure_events_topic


def redacted(url: str) -> str:
    """A database URL fit to print: its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


@dataclass
class Stack:
    settings: StackSettings
    name: str = "up"
    kafka: KafkaCluster = field(init=False)
    postgres: PostgresServer | None = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.kafka = KafkaCluster(self.home / "kafka", port=s.kafka_port, nodes=s.brokers)
        self.postgres = (
            None if s.database_url else PostgresServer(self.home / "postgres", s.pg_port)
        )
        # Inherited by every child (broker, database, services): lets cleanup find them all.
        os.environ["FANOUT_STACK_HOME"] = str(self.home)

    @property
    def home(self) -> Path:
        return state_root() / self.name

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def database_url(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        assert self.postgres is not None
        return self.postgres.url

    @property
    def reader_url(self) -> str:
        """The read-only role's URL: configured (READER_DATABASE_URL), or the local cluster's."""
        if self.settings.reader_database_url:
            return self.settings.reader_database_url
        if self.postgres is None:
            raise RuntimeError("DATABASE_URL points at another server: set READER_DATABASE_URL")
        return self.postgres.reader_url

    def env(self) -> dict[str, str]:
        """Environment for every child process: compose.yml's variables, pointed at this stack."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "DATABASE_URL": self.database_url,
            "EVENTS_TOPIC": self.settings.topic,
            # Where the processes read the supervisor's restarts (shared/supervision.py).
            "FANOUT_SUPERVISOR_STATUS": str(self.home / "supervisor.json"),
        }

    @cached_property
    def account(self) -> Account | None:
        """Whom the broker and the services run as (infra/local/users.py): ``fanout`` under root."""
        return service_account(self.home)

    def start_infra(self) -> None:
        """Broker and database in parallel would save a few seconds; sequential keeps logs clear."""
        self.kafka.account = self.account
        self.kafka.start()
        if self.postgres is not None:
            self.postgres.start()
        self.create_topic()

    def create_topic(self) -> bool:
        s = self.settings
        return asyncio.run(
            ensure_events_topic(self.bootstrap, s.topic, s.partitions, s.replication)
        )

    def stop_infra(self) -> None:
        self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()
