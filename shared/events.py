"""The event contract: one definition for the publisher, every service and the tests.

A JSON object with ``event_id`` (UUID), ``event_datetime`` and ``event_type``. The seed's own
producer writes ``{"event_id": "…", "event_datetime": "2020-06-12-21-12-27", "event_type": "buy"}``
with no key; ISO 8601 (with an offset) is accepted too. Optional: ``user_id`` (the publisher's
message key, so one user's events stay in order), ``amount`` (buy/sell) and ``schema_version``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

EventType = Literal["buy", "sell", "click", "hover", "idle_5"]
EVENT_TYPES: tuple[str, ...] = ("buy", "sell", "click", "hover", "idle_5")
SEED_FORMAT = "%Y-%m-%d-%H-%M-%S"
MAX_VALUE_BYTES = 64 * 1024


def _parse_datetime(value: object) -> object:
    """The seed's ``2020-06-12-21-12-27`` (UTC); anything else goes to pydantic's ISO parser."""
    if isinstance(value, str) and len(value) == 19 and value[10] == "-":
        return datetime.strptime(value, SEED_FORMAT).replace(tzinfo=UTC)
    return value


def _assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


EventTime = Annotated[datetime, BeforeValidator(_parse_datetime)]


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    event_datetime: EventTime
    event_type: EventType
    user_id: str | None = Field(None, min_length=1, max_length=128)
    amount: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    schema_version: int = 1

    @property
    def occurred_at(self) -> datetime:
        return _assume_utc(self.event_datetime)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One valid event as it arrived: where from, and its raw bytes (audit keeps them)."""

    event: Event
    topic: str
    partition: int
    offset: int
    raw: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    """One event a service cannot accept, with why."""

    topic: str
    partition: int
    offset: int
    raw: bytes | None
    reason: str
    error: str
    event_id: uuid.UUID | None = None  # known for conflicts and handler failures


def classify(topic: str, partition: int, offset: int, raw: bytes | None) -> Delivery | Rejected:
    """Decode and validate one record value; never raises."""
    if raw is None:
        return Rejected(topic, partition, offset, raw, "null_value", "tombstone")
    if len(raw) > MAX_VALUE_BYTES:
        return Rejected(topic, partition, offset, raw, "oversize", f"{len(raw)} bytes")
    try:
        return Delivery(Event.model_validate_json(raw), topic, partition, offset, raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = _reason(first)
        if reason == "invalid_json" and not _is_utf8(raw):
            reason = "non_utf8"
        return Rejected(topic, partition, offset, raw, reason, str(first["msg"]))


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _reason(error: object) -> str:
    """A short reason code from pydantic's first error."""
    kind = error["type"]  # type: ignore[index]
    loc = error["loc"]  # type: ignore[index]
    field = str(loc[0]) if loc else ""
    if kind == "json_invalid":
        return "invalid_json"
    if kind == "model_type":
        return "not_an_object"
    if kind == "missing":
        return "missing_field"
    return {
        "event_id": "invalid_uuid",
        "event_datetime": "invalid_datetime",
        "event_type": "unknown_event_type",
        "amount": "invalid_amount",
    }.get(field, "wrong_type")
