"""Typed settings of a service process, read from the environment at start-up.

Variable names are exactly those in compose.yml.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.kafka_auth import KafkaAuthSettings
from shared.secret_files import fill_url_password


def dlq_topic(events_topic: str, service: str) -> str:
    return f"{events_topic}.{service}.dlq"


def redrive_topic(events_topic: str, service: str) -> str:
    return f"{events_topic}.{service}.redrive"


class KafkaSettings(KafkaAuthSettings):
    """Where the broker is, and who this process is there (KAFKA_USERNAME, ...)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    events_topic: str = "multi-app-events"
    web_port: int = 6066
    web_bind: str = "127.0.0.1"
    # Host names the dashboards answer besides loopback and web_bind (comma-separated): e.g.
    # a machine's LAN name when BIND_ADDRESS publishes them. Anything else gets 421.
    web_allowed_hosts: str = ""
    # The local runner's status file (shared/supervision.py); unset under compose.
    supervisor_status: str | None = Field(None, validation_alias="FANOUT_SUPERVISOR_STATUS")

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]


class ServiceSettings(KafkaSettings):
    """One consuming service (analytics, billing or audit)."""

    service_name: str
    database_url: str  # the service's own role
    # Its password when the URL carries none (compose.yml: the service's secret volume).
    database_password_file: Path | None = None
    # Consumer group: the service name unless a test or a second deployment overrides it.
    consumer_group: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    # Under a backlog a larger transaction is cheaper per event (README, Throughput); when the
    # consumer keeps up, a batch is what one fetch brings (fetch_min_bytes below), far fewer.
    batch_max: int = Field(5000, ge=1)
    batch_within_ms: int = Field(200, ge=1)
    max_poll_interval_ms: int = Field(300_000, ge=1000)
    session_timeout_ms: int = Field(10_000, ge=1000)
    # Take what is there soon: the broker answers a fetch once it holds 16 KiB or after 20 ms,
    # and the fetch step tops the client's buffered records up with what arrived while the
    # last batch was written (fetch_top_up_ms). Under a backlog each fetch is full anyway, so
    # batches grow to batch_max by themselves. Measured (README, Throughput): p99 at 2,000/s
    # 136-160 ms with 64 KiB and 100 ms; 27-46 ms with 1 byte (answered at once: ~2 fetches
    # a batch); 23-36 ms with 16 KiB and 10 ms, the services' CPU 30% lower; on a slower day
    # 44-81 ms with 10 ms and 39-48 ms with 20 (batches of 47, not 30: a third less CPU).
    # These are the busy wait; a quiet consumer (a batch of one record or none) asks for 1 byte
    # within 100 ms instead (shared/fetch_wait.py).
    fetch_min_bytes: int = Field(16_384, ge=1)
    fetch_max_wait_ms: int = Field(20, ge=0)
    # Records the client already held are topped up with what reached the broker while the
    # last batch was written, waiting at most this long (shared/fetch.py); 0: never.
    fetch_top_up_ms: int = Field(5, ge=0)
    # Crash switch for demos and tests: exit hard after this batch's DB commit, before its
    # offset commit (1 = the first batch). Unset: never.
    crash_after_batch: int | None = Field(None, ge=1)
    db_pool_size: int = Field(4, ge=1)
    # The dashboards' reads: a pool of their own, small, each statement bounded by the server
    # (a page can never hold the consume loop's connections or run a query for long).
    read_pool_size: int = Field(2, ge=1, le=8)
    read_statement_timeout_ms: int = Field(3000, ge=100, le=30_000)
    # Dead letters (and a service's own history, e.g. audit's deliveries) older than this are
    # deleted every retention_interval_s, by the service itself (shared/retention.py).
    retention_hours: float = Field(168.0, gt=0)
    retention_interval_s: float = Field(600.0, ge=1)
    # Where the committed offsets live: ``kafka`` (at-least-once: committed after the DB
    # transaction, the inbox absorbs a crash's redelivery) or ``database`` (each partition's
    # next offset in the batch's own transaction, fenced; Kafka gets a best-effort mirror).
    offset_store: Literal["kafka", "database"] = "kafka"

    @model_validator(mode="before")
    @classmethod
    def _url_password_from_file(cls, data: Any) -> Any:
        return fill_url_password(data, "database_url", "database_password_file")

    @property
    def group(self) -> str:
        return self.consumer_group or self.service_name

    @property
    def dlq_topic(self) -> str:
        """Events this service cannot accept, with Kafka Connect-style error headers."""
        return dlq_topic(self.events_topic, self.service_name)

    @property
    def redrive_topic(self) -> str:
        """Dead letters re-fed to this service alone (`./fanout redrive SERVICE`)."""
        return redrive_topic(self.events_topic, self.service_name)


class PublisherSettings(KafkaSettings):
    publish_rate: float = Field(20.0, ge=0)  # events per second; 0 = as fast as possible
    publish_acks: Literal["all", "1", "0"] = "all"
    publish_users: int = Field(100, ge=1)
    web_port: int = 6065
    reader_database_url: str | None = None  # fanout_reader role: the overview's read side
    reader_database_password_file: Path | None = None  # when that URL carries no password
    # A database per service: service → the fanout_reader URL on its server (JSON); a service
    # not named here is read at reader_database_url.
    reader_database_urls: dict[str, str] = Field(default_factory=dict)
    # The overview reads each service's consumer group: its name unless set here, as JSON
    # ({"billing": "billing-2"}), like a service's own CONSUMER_GROUP.
    consumer_groups: dict[str, str] = Field(default_factory=dict)

    def reader_urls(self, services: Iterable[str]) -> dict[str, str]:
        """Where the overview reads each service (none: the overview shows the broker only)."""
        base = self.reader_database_url
        urls = {s: self.reader_database_urls.get(s, base) for s in services}
        return {s: url for s, url in urls.items() if url}

    @model_validator(mode="before")
    @classmethod
    def _url_password_from_file(cls, data: Any) -> Any:
        return fill_url_password(data, "reader_database_url", "reader_database_password_file")
