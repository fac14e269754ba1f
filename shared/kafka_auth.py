"""Who a process is on the broker: its SASL principal, password and mechanism.

The broker authenticates every client (SASL/SCRAM-SHA-512; README: security) and authorizes
each principal by ACLs. A process has one identity, signed in once at start-up
(``sign_in``); every client the kit builds (``shared.broker``) uses it. Unset, the
environment's KAFKA_USERNAME / KAFKA_PASSWORD[_FILE] (compose.yml's names) are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.secret_files import read_secret

Mechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
# SASL_PLAINTEXT: loopback and the compose network only; SASL_SSL for a network deployment.
Protocol = Literal["SASL_PLAINTEXT", "SASL_SSL"]


@dataclass(frozen=True)
class KafkaAuth:
    username: str
    password: str
    mechanism: Mechanism = "SCRAM-SHA-512"
    protocol: Protocol = "SASL_PLAINTEXT"

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"KafkaAuth({self.username!r}, {self.mechanism}, {self.protocol})"

    def aiokafka(self) -> dict[str, Any]:
        """Arguments of aiokafka's clients (its sasl_plain_* fields serve SCRAM too)."""
        return {
            "security_protocol": self.protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    def librdkafka(self) -> dict[str, str]:
        """confluent-kafka's (librdkafka's) configuration keys."""
        return {
            "security.protocol": self.protocol,
            "sasl.mechanism": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
        }

    def environment(self) -> dict[str, str]:
        """The variables a child process reads this identity from (KafkaAuthSettings)."""
        return {
            "KAFKA_USERNAME": self.username,
            "KAFKA_PASSWORD": self.password,
            "KAFKA_SASL_MECHANISM": self.mechanism,
            "KAFKA_SECURITY_PROTOCOL": self.protocol,
        }

    def jaas(self) -> str:
        """Kafka's Java clients' ``sasl.jaas.config`` (kafka-console-*.sh properties)."""
        module = "plain.PlainLoginModule" if self.mechanism == "PLAIN" else "scram.ScramLoginModule"
        return (
            f"org.apache.kafka.common.security.{module} required "
            f'username="{self.username}" password="{self.password}";'
        )


class KafkaAuthSettings(BaseSettings):
    """A process's broker identity from the environment (names as in compose.yml)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_username: str | None = None
    kafka_password: str | None = None
    kafka_password_file: Path | None = None  # compose: the principal's secret volume
    kafka_sasl_mechanism: Mechanism = "SCRAM-SHA-512"
    kafka_security_protocol: Protocol = "SASL_PLAINTEXT"

    @model_validator(mode="before")
    @classmethod
    def _kafka_password_from_file(cls, data: Any) -> Any:
        """A given KAFKA_PASSWORD wins; else the file's (the official images' *_FILE way)."""
        if not isinstance(data, dict) or data.get("kafka_password"):
            return data
        if data.get("kafka_username") and data.get("kafka_password_file"):
            return {**data, "kafka_password": read_secret(data["kafka_password_file"])}
        return data

    @property
    def kafka_auth(self) -> KafkaAuth | None:
        """None when no principal is named: the process then cannot reach the broker."""
        if not self.kafka_username:
            return None
        return KafkaAuth(
            self.kafka_username,
            self.kafka_password or "",
            self.kafka_sasl_mechanism,
            self.kafka_security_protocol,
        )


_signed_in: list[KafkaAuth] = []  # this process's identity, once known


def sign_in(auth: KafkaAuth | None) -> None:
    """This process's identity for every client built from now on (None: forget it)."""
    _signed_in.clear()
    if auth is not None:
        _signed_in.append(auth)


def identity() -> KafkaAuth | None:
    """The signed-in identity, else the environment's (KAFKA_USERNAME, ...), else None."""
    if not _signed_in:
        env = KafkaAuthSettings().kafka_auth
        if env is not None:
            _signed_in.append(env)
    return _signed_in[0] if _signed_in else None


def client_options() -> dict[str, Any]:
    """aiokafka arguments of this process's identity ({} when it has none)."""
    auth = identity()
    return auth.aiokafka() if auth else {}
