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

Decoding is msgspec's (a typed decoder in C: a few µs an event, every service decodes every
event); what JSON types cannot say — times, amounts, user ids — is checked in ``_checked``.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Literal

import msgspec

EventType = Literal["buy", "sell", "click", "hover", "idle_5"]
EVENT_TYPES: tuple[str, ...] = ("buy", "sell", "click", "hover", "idle_5")
MAX_VALUE_BYTES = 64 * 1024
# How far an event's time may lie after its record's Kafka timestamp (clock skew, batching).
MAX_FUTURE = timedelta(days=1)
MAX_AMOUNT = Decimal("9999999999.99")  # 12 digits, 2 of them decimals: billing's column holds it
_CENT = Decimal("0.01")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class Event(msgspec.Struct, frozen=True, gc=False):
    """A valid event; ``event_datetime`` is in UTC."""

    event_id: uuid.UUID
    event_datetime: datetime
    event_type: EventType
    user_id: str | None = None
    amount: Decimal | None = None
    schema_version: int = 1

    @property
    def occurred_at(self) -> datetime:
        return self.event_datetime

    def to_json(self) -> bytes:
        return _ENCODER.encode(self)


class _WireFields(msgspec.Struct, frozen=True, gc=False):
    """An event as it arrives, but its time (below: as text, or as msgspec parsed it)."""

    event_id: uuid.UUID
    event_type: EventType
    user_id: UserId | None = None
    amount: Decimal | None = None
    schema_version: int = 1


class _Wire(_WireFields, frozen=True, gc=False, kw_only=True):
    """The time still text: the seed's format is not RFC 3339."""

    event_datetime: str


class _Rfc3339Wire(_WireFields, frozen=True, gc=False, kw_only=True):
    """The usual event (the publisher's): its RFC 3339 time parsed by msgspec, in C. The
    decoder tries it first; anything it refuses is decoded again as ``_Wire``, which also
    names the reason."""

    event_datetime: datetime


class Delivery(msgspec.Struct, frozen=True, gc=False):
    """One valid event as it arrived: where from, and its raw bytes (audit keeps them)."""

    event: Event
    topic: str
    partition: int
    offset: int
    raw: bytes


class Rejected(msgspec.Struct, frozen=True, gc=False):
    """One event a service cannot accept, with why."""

    topic: str
    partition: int
    offset: int
    raw: bytes | None
    reason: str
    error: str
    event_id: uuid.UUID | None = None  # known for conflicts and handler failures


_ENCODER = msgspec.json.Encoder(decimal_format="string")
_DECODER = msgspec.json.Decoder(_Wire)
_RFC3339_DECODER = msgspec.json.Decoder(_Rfc3339Wire)
# The first field a message names decides the reason code; anything else is a wrong type.
_FIELD_REASONS = {
    "event_id": "invalid_uuid",
    "event_datetime": "invalid_datetime",
    "event_type": "unknown_event_type",
    "amount": "invalid_amount",
    "user_id": "invalid_user_id",
}
_AT_FIELD = re.compile(r"at `\$\.(\w+)")


class Invalid(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


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
        event = _checked(_decode(raw), timestamp_ms)
    except Invalid as exc:
        return Rejected(topic, partition, offset, raw, exc.reason, str(exc))
    return Delivery(event, topic, partition, offset, raw)


def _decode(raw: bytes) -> _Wire | _Rfc3339Wire:
    if not raw.isascii():  # msgspec checks UTF-8 only where it reads a string it keeps
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid("non_utf8", str(exc)) from None
    try:
        return _RFC3339_DECODER.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        pass  # the seed's time, or not valid: decoded again below, which says why
    try:
        return _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith("Expected `object`"):
            raise Invalid("not_an_object", message) from None
        if message.startswith("Object missing required field"):
            raise Invalid("missing_field", message) from None
        field = _AT_FIELD.search(message)
        reason = _FIELD_REASONS.get(field.group(1), "wrong_type") if field else "wrong_type"
        raise Invalid(reason, message) from None
    except (msgspec.DecodeError, RecursionError) as exc:  # deep nesting: RecursionError
        raise Invalid("invalid_json", f"{type(exc).__name__}: {exc}") from None


def _checked(wire: _Wire | _Rfc3339Wire, timestamp_ms: int | None) -> Event:
    """What JSON types cannot say: a time in UTC and not from the far future, an amount of
    cents, a user id a store and a screen can show."""
    t = wire.event_datetime
    when = _utc(t) if isinstance(t, str) else _in_utc(t)
    if not _surely_plausible(when, timestamp_ms) and when > (latest := _latest(timestamp_ms)):
        raise Invalid(
            "invalid_datetime", f"event_datetime: {when.isoformat()} is after {latest.isoformat()}"
        )
    amount = wire.amount
    if amount is not None and not (
        amount.is_finite() and 0 <= amount <= MAX_AMOUNT and _cents(amount)
    ):
        raise Invalid("invalid_amount", f"amount: {amount} is not 0 to {MAX_AMOUNT} in cents")
    if wire.user_id is not None and not wire.user_id.isprintable():
        raise Invalid("invalid_user_id", "user_id: must not contain control characters")
    return Event(wire.event_id, when, wire.event_type, wire.user_id, amount, wire.schema_version)


def _cents(amount: Decimal) -> bool:
    """At most two decimals as written (``12.340`` is not cents). The usual amount has
    exactly two: ``same_quantum`` says so without ``as_tuple``'s tuple of digits (a third of
    this check's cost)."""
    return amount.same_quantum(_CENT) or amount.as_tuple().exponent >= -2  # type: ignore[operator]


@lru_cache(maxsize=4096)
def _utc(text: str) -> datetime:
    """The seed's ``2020-06-12-21-12-27`` (UTC) or ISO 8601; no offset means UTC. Raises when
    the instant has no UTC representation (year 10000). Cached (datetimes are immutable; a
    raise is not cached): the seed's times are whole seconds, which a batch's events share."""
    if len(text) == 19 and text[10] == "-":  # the seed's format, as ISO 8601 in UTC
        # "+00:00" parses to UTC itself: .replace(tzinfo=UTC) cost 0.75 µs, half of decoding.
        text = f"{text[:10]}T{text[11:13]}:{text[14:16]}:{text[17:]}+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid("invalid_datetime", f"event_datetime: {exc}") from None
    return _in_utc(when)


def _in_utc(when: datetime) -> datetime:
    """``when`` in UTC (no offset means UTC); raises when it has no UTC representation (year
    0 or 10000)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    if when.tzinfo is UTC:
        return when
    try:
        return when.astimezone(UTC)
    except OverflowError:
        message = f"event_datetime: {when.isoformat()} is outside years 1-9999 in UTC"
        raise Invalid("invalid_datetime", message) from None


def _surely_plausible(when: datetime, timestamp_ms: int | None) -> bool:
    """The usual event, at a comparison's cost (the exact bound in datetimes was a third of
    a service's decoding): a known stamp, and a time more than a second inside its bound.
    Every other event is held to ``_latest``, exactly."""
    if timestamp_ms is None or timestamp_ms < 0:
        return False
    try:
        return when < _bound_below(timestamp_ms // 1000)
    except OverflowError:
        return False


@lru_cache(maxsize=256)
def _bound_below(second: int) -> datetime:
    """Below the bound of every stamp within ``second`` by a second at least (a batch's
    records share a few seconds: one datetime each)."""
    return _EPOCH + timedelta(seconds=second - 1) + MAX_FUTURE


def _latest(timestamp_ms: int | None) -> datetime:
    """The latest plausible event time for a record with this Kafka timestamp (None or
    negative: unknown, the local clock stands in): exactly MAX_FUTURE after it, to the ms."""
    if timestamp_ms is None or timestamp_ms < 0:
        timestamp_ms = int(time.time() * 1000)
    try:
        stamp = _EPOCH + timedelta(milliseconds=timestamp_ms)
    except OverflowError:
        # A stamp no calendar holds (a broker that lets producers stamp anything): the clock.
        stamp = datetime.now(UTC)
    try:
        return stamp + MAX_FUTURE
    except OverflowError:  # within a day of year 9999's end: nothing is after it anyway
        return datetime.max.replace(tzinfo=UTC)
