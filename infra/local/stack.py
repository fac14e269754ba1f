"""The local platform: broker(s), database, topic, schema — and the service processes.

Used by ``./fanout up`` (state in .state/up) and by the test fixtures (state in .state/test),
so both run the very same start-up path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from infra.kafka import access, principals
from infra.kafka.credentials import CredentialStore
from infra.kafka.server import KafkaCluster
from infra.local.users import Account, service_account
from infra.paths import state_root
from infra.postgres.server import PostgresServer
from infra.settings import StackSettings
from shared.kafka_auth import sign_in


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
    def credentials(self) -> CredentialStore:
        """The broker's passwords of this stack (README: security)."""
        return self.kafka.credentials

    def operator_env(self) -> dict[str, str]:
        """The variables that make a child process this stack's operator (the bench's peers)."""
        auth = self.credentials.auth(principals.OPERATOR)
        return {
            "KAFKA_USERNAME": auth.username,
            "KAFKA_PASSWORD": auth.password,
            "KAFKA_SASL_MECHANISM": auth.mechanism,
        }

    def kafka_variables(self) -> dict[str, str]:
        """compose.yml's ${<PRINCIPAL>_KAFKA_PASSWORD}: each process's own broker password."""
        return {kafka_password_variable(n): self.credentials.password(n) for n in principals.ALL}

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
        # This process (`./fanout up`, the tests' harness) is the operator on its own broker.
        sign_in(self.credentials.auth(principals.OPERATOR))
        self.kafka.account = self.account
        self.kafka.start()
        self.credentials.write_snippets(self.bootstrap)
        if self.postgres is not None:
            self.postgres.start()
        self.create_topic()

    def create_topic(self) -> bool:
        """The SCRAM users, the topics and the ACLs of the platform on the stack's topic."""
        return self.provision(self.settings.topic, users=True)

    def provision(self, topic: str, users: bool = False, bootstrap: str | None = None) -> bool:
        """As the operator: what the platform needs on events topic ``topic`` (a test's own
        topic too; on another cluster of the same principals when ``bootstrap`` says), with
        the SCRAM users when asked; True when that topic was created now."""
        s = self.settings
        passwords = self.credentials.passwords() if users else None
        return access.provision(
            bootstrap or self.bootstrap, topic, s.partitions, s.replication, passwords
        )

    def stop_infra(self) -> None:
        self.kafka.stop()
        if self.postgres is not None:
            self.postgres.stop()


def kafka_password_variable(principal: str) -> str:
    return f"{principal.upper()}_KAFKA_PASSWORD"
