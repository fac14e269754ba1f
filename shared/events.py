"""The event contract: one definition for the publisher, every service and the tests.

A JSON object with ``event_id`` (UUID), ``event_datetime`` and ``event_type``. The seed's own
producer writes ``{"event_id": "…", "event_datetime": "2020-06-12-21-12-27", "event_type": "buy"}``
with no key; ISO 8601 (with an offset) is accepted too. Optional: ``user_id`` (the publisher's
message key, so one user's events stay in order), ``amount`` (buy/sell) and ``schema_version``.

Times are kept in UTC. A time that has no UTC representation (``9999-12-31T23:59:59-14:00`` is
year 10000 in UTC, which neither Python nor the database driver can read back) is
``invalid_datetime``, and so is a time more than a day after the record's own Kafka timestamp
(which the broker keeps within ``message.timestamp.after.max.ms``, 1 h, of its clock): one event
from the far future must not pin a chart or a time lag. Events from the past are welcome.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

import orjson
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

EventType = Literal["buy", "sell", "click", "hover", "idle_5"]
EVENT_TYPES: tuple[str, ...] = ("buy", "sell", "click", "hover", "idle_5")
SEED_FORMAT = "%Y-%m-%d-%H-%M-%S"
MAX_VALUE_BYTES = 64 * 1024
# How far an event's time may lie after its record's Kafka timestamp (clock skew, batching).
MAX_FUTURE = timedelta(days=1)


def _parse_datetime(value: object) -> object:
    """The seed's ``2020-06-12-21-12-27`` (UTC); other strings go to pydantic's ISO parser.
    Numbers are refused: pydantic would read them as seconds or milliseconds by their size."""
    if isinstance(value, datetime):  # built in Python (the publisher), not decoded
        return value
    if not isinstance(value, str):
        raise ValueError("must be a string: YYYY-MM-DD-HH-MM-SS or ISO 8601")
    if len(value) == 19 and value[10] == "-":
        return datetime.strptime(value, SEED_FORMAT).replace(tzinfo=UTC)
    return value


def _to_utc(value: datetime) -> datetime:
    """No offset means UTC. Raises when the instant has no UTC representation (year 10000)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside years 1-9999 in UTC") from None


def _plain_text(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


EventTime = Annotated[datetime, BeforeValidator(_parse_datetime), AfterValidator(_to_utc)]
UserId = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_plain_text)]


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: uuid.UUID
    event_datetime: EventTime
    event_type: EventType
    user_id: UserId | None = None
    amount: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    schema_version: int = 1

    @property
    def occurred_at(self) -> datetime:
        return self.event_datetime  # always in UTC (see _to_utc)

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


def classify(
    topic: str, partition: int, offset: int, raw: bytes | None, timestamp_ms: int | None = None
) -> Delivery | Rejected:
    """Decode and validate one record value; never raises. ``timestamp_ms`` is the record's
    Kafka timestamp (None or negative: unknown, the local clock stands in)."""
    if raw is None:
        return Rejected(topic, partition, offset, raw, "null_value", "tombstone")
    if len(raw) > MAX_VALUE_BYTES:
        return Rejected(topic, partition, offset, raw, "oversize", f"{len(raw)} bytes")
    try:
        event = Event.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = _reason(first)
        if reason == "invalid_json" and not _is_utf8(raw):
            reason = "non_utf8"
        where = ".".join(str(part) for part in first["loc"])
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        return Rejected(topic, partition, offset, raw, reason, message)
    latest = _record_time(timestamp_ms) + MAX_FUTURE
    if event.event_datetime > latest:
        message = (
            f"event_datetime: {event.event_datetime.isoformat()} is after {latest.isoformat()}"
        )
        return Rejected(topic, partition, offset, raw, "invalid_datetime", message)
    return Delivery(event, topic, partition, offset, raw)


def _record_time(timestamp_ms: int | None) -> datetime:
    if timestamp_ms is None or timestamp_ms < 0:
        return datetime.now(UTC)
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


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
        "user_id": "invalid_user_id",
    }.get(field, "wrong_type")
