"""Settings of the operator side — ``./fanout`` (ports, sizes) and compose's one-shot ``init``;
built once at start-up, frozen. The services' own settings are in shared/settings.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.kafka_auth import KafkaAuthSettings
from shared.secret_files import fill_url_password, with_password


class StackSettings(BaseSettings):
    """Where the local platform runs. ``./fanout test`` uses its own instance with other ports."""

    model_config = SettingsConfigDict(env_prefix="FANOUT_", extra="ignore", frozen=True)

    kafka_port: int = 9092
    brokers: int = Field(1, ge=1, le=5)
    pg_port: int = 55432
    partitions: int = Field(6, ge=1)
    replication: int = Field(1, ge=1)
    topic: str = "multi-app-events"
    # An external PostgreSQL; when set, no local cluster is started.
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    # Its read-only role (fanout_reader) for reconcile; the local cluster's by default.
    reader_database_url: str | None = Field(None, validation_alias="READER_DATABASE_URL")
    web_port: int = 6066  # analytics; billing, audit next; publisher one below


class SuiteStackSettings(StackSettings):
    """The test stack: other ports and state so it runs beside ``./fanout up`` (and beside
    another test run when FANOUT_TEST_* and FANOUT_STATE_DIR differ)."""

    model_config = SettingsConfigDict(env_prefix="FANOUT_TEST_", extra="ignore", frozen=True)

    # Below 32768: Linux hands out 32768-60999 as ephemeral client ports, so a busy test run
    # could otherwise find its own server port taken.
    kafka_port: int = 29092
    pg_port: int = 25433
    web_port: int = 16066
    database_url: str | None = None  # the tests always run their own PostgreSQL
    reader_database_url: str | None = None


def suite_settings() -> StackSettings:
    return SuiteStackSettings()


class BenchStackSettings(StackSettings):
    """The benchmark's private stack (FANOUT_BENCH_* overrides)."""

    model_config = SettingsConfigDict(env_prefix="FANOUT_BENCH_", extra="ignore", frozen=True)

    kafka_port: int = 27092
    pg_port: int = 25434
    web_port: int = 26066
    database_url: str | None = None
    reader_database_url: str | None = None


def _beside_suite(offset: int, field: str) -> int:
    return int(getattr(SuiteStackSettings(), field)) + offset


class ComposeTierSettings(BaseSettings):
    """The compose tier's published ports (FANOUT_COMPOSE_* overrides). By default the test
    stack's ports moved up by 2,000 (Kafka), 3,000 (PostgreSQL) or 6,000 (web): a checkout whose
    FANOUT_TEST_* ports differ from another's gets a tier that differs too, neither meets
    `./fanout up` or the bench, and all stay below 32768, where Linux hands out ephemeral client
    ports (a busy machine's client socket once held a tier port: `address already in use`)."""

    model_config = SettingsConfigDict(env_prefix="FANOUT_COMPOSE_", extra="ignore", frozen=True)

    kafka_port: int = Field(default_factory=lambda: _beside_suite(2_000, "kafka_port"))
    pg_port: int = Field(default_factory=lambda: _beside_suite(3_000, "pg_port"))
    # analytics; billing, audit next; publisher one below
    web_port: int = Field(default_factory=lambda: _beside_suite(6_000, "web_port"))


class InitSettings(KafkaAuthSettings):
    """compose's one-shot ``init``: the broker's users, topics and ACLs (as the operator:
    KAFKA_USERNAME, ...), and the migrations."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str
    database_url: str  # the admin role: migrations create schemas and roles
    database_password_file: Path | None = None  # its password when the URL carries none
    events_topic: str = "multi-app-events"
    partitions: int = Field(6, ge=1, validation_alias="FANOUT_PARTITIONS")
    replication: int = Field(1, ge=1, validation_alias="FANOUT_REPLICATION")
    patience_s: float = Field(120.0, ge=0, validation_alias="INIT_PATIENCE_S")

    @model_validator(mode="before")
    @classmethod
    def _url_password_from_file(cls, data: Any) -> Any:
        return fill_url_password(data, "database_url", "database_password_file")


class SecretsSettings(BaseSettings):
    """compose's one-shot ``secrets``: a password given here (from `.env` or the environment)
    wins; an empty one means "keep the stored one, or make one". Names as in compose.yml."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    postgres_password: str = ""
    analytics_db_password: str = ""
    billing_db_password: str = ""
    audit_db_password: str = ""
    reader_db_password: str = ""
    controller_kafka_password: str = ""
    broker_kafka_password: str = ""
    operator_kafka_password: str = ""
    publisher_kafka_password: str = ""
    analytics_kafka_password: str = ""
    billing_kafka_password: str = ""
    audit_kafka_password: str = ""
    learner_kafka_password: str = ""

    def given(self) -> dict[str, str]:
        """Every password variable (upper case, as compose.yml spells it) with its value."""
        return {name.upper(): str(value) for name, value in self.model_dump().items()}


class ScenarioSettings(StackSettings):
    """`./fanout scenario`: where the platform is. Run by hand beside `./fanout up`, the
    supervisor's status file says; run by the overview (inside the publisher's process tree,
    or its container under compose) the publisher's own variables — compose.yml's names — say."""

    kafka_bootstrap_servers: str | None = Field(None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    events_topic: str | None = Field(None, validation_alias="EVENTS_TOPIC")
    # Each service's consumer group when it is not its name, as the publisher reads it (JSON).
    consumer_groups: dict[str, str] = Field(
        default_factory=dict, validation_alias="CONSUMER_GROUPS"
    )
    # The status file of the supervisor that started this process tree (a Run on the
    # overview); else `./fanout up`'s in the state folder.
    supervisor_status: Path | None = Field(None, validation_alias="FANOUT_SUPERVISOR_STATUS")
    # Under compose the publisher's reader URL carries no password: this file has it.
    reader_database_password_file: Path | None = Field(
        None, validation_alias="READER_DATABASE_PASSWORD_FILE"
    )

    @property
    def reader_url(self) -> str | None:
        url, file = self.reader_database_url, self.reader_database_password_file
        return with_password(url, file) if url and file else url
