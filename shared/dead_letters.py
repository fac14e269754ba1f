"""Dead letters: every rejected event, recorded in the service's table and on its dead-letter
topic, in a form that always fits and never fails a batch.

The rule, for every reason code now and later (``DeadLetter.of``): text derived from the event
is escaped (:func:`shared.text.printable`) and bounded; the payload is bounded to
``payload_cap`` bytes, with the original size and SHA-256 beside it (the whole value stays
readable at its source offset, which the headers name). If the full record still cannot be
stored or sent because of what it holds, its *minimal form* — source position, reason, size,
hash, and why — is recorded instead: a dead letter can cost its payload, never the partition.

Headers follow Kafka Connect's error-reporting names (``__connect.errors.*``) so existing
tooling reads them, plus ``fanout.*``. Letters are sent after the batch's DB commit and
acknowledged before its offsets are committed: a crash in between sends one twice (keyed by
its source position, so readers can tell), never loses one. This module is the form and the
table; ``shared/dead_letter_topic.py`` sends them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.bulk import BinaryArray, arrays, bulk_insert
from shared.events import MAX_VALUE_BYTES, Rejected
from shared.text import printable

log = logging.getLogger(__name__)
REASON_HEADER = "fanout.reason"
ERROR_CHARS = 1000  # of an error message, escaped
HEADROOM = 4096  # bytes left in a record for headers, key and batch overhead
COLUMNS = (
    "topic",
    "partition",
    "kafka_offset",
    "event_id",
    "reason",
    "error",
    "payload",
    "payload_size",
    "payload_sha256",
)


def payload_cap(max_message_bytes: int) -> int:
    """Payload bytes a dead letter may carry on a topic with this ``max.message.bytes``: every
    valid event whole (they are at most MAX_VALUE_BYTES), room left for the headers."""
    return max(0, min(MAX_VALUE_BYTES, max_message_bytes - HEADROOM))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A rejected event in the form every store takes."""

    rejected: Rejected
    error: str  # printable, bounded
    payload: bytes | None  # the first payload_cap bytes; None: tombstone, or minimal form
    size: int | None  # of the whole value
    sha256: bytes | None
    minimal: str | None = None  # why only the minimal form is kept

    @classmethod
    def of(cls, r: Rejected, cap: int) -> DeadLetter:
        raw = r.raw
        digest = hashlib.sha256(raw).digest() if raw is not None else None
        size = len(raw) if raw is not None else None
        payload = raw[:cap] if raw is not None else None
        return cls(r, printable(r.error, ERROR_CHARS), payload, size, digest)

    def as_minimal(self, why: BaseException) -> DeadLetter:
        reason = printable(f"{type(why).__name__}: {why}", 200)
        return replace(self, payload=None, error=f"{self.error} [minimal form: {reason}]",
                       minimal=reason)  # fmt: skip

    @property
    def truncated(self) -> bool:
        return self.payload is not None and self.size is not None and len(self.payload) < self.size

    @property
    def key(self) -> bytes:
        r = self.rejected
        return f"{r.topic}:{r.partition}:{r.offset}".encode()

    def headers(self, service: str) -> list[tuple[str, bytes]]:
        r = self.rejected
        out = [
            ("__connect.errors.topic", r.topic.encode()),
            ("__connect.errors.partition", str(r.partition).encode()),
            ("__connect.errors.offset", str(r.offset).encode()),
            ("__connect.errors.exception.class.name", error_class(r).encode()),
            ("__connect.errors.exception.message", self.error.encode()),
            ("fanout.service", service.encode()),
            (REASON_HEADER, r.reason.encode()),
        ]
        if self.size is not None and self.sha256 is not None:
            out += [
                ("fanout.payload.size", str(self.size).encode()),
                ("fanout.payload.sha256", self.sha256.hex().encode()),
            ]
        if self.truncated:
            out.append(("fanout.payload.truncated", b"true"))
        if self.minimal is not None:
            out.append(("fanout.minimal", self.minimal.encode()))
        return out


def of(rejected: Sequence[Rejected], cap: int) -> list[DeadLetter]:
    """The letters of ``rejected``, each payload cut at ``cap`` (the dead-letter topic's)."""
    return [DeadLetter.of(r, cap) for r in rejected]


def error_class(r: Rejected) -> str:
    """``handler_error`` messages start with the exception's class name."""
    return r.error.split(":", 1)[0] if r.reason == "handler_error" else "fanout.InvalidEvent"


# --- the service's table --------------------------------------------------------------------


def _insert(table: sa.Table) -> sa.Executable:
    return (
        bulk_insert(table, COLUMNS)
        .on_conflict_do_nothing(index_elements=["topic", "partition", "kafka_offset"])
        .returning(table.c.topic, table.c.partition, table.c.kafka_offset)
    )


async def store(
    conn: AsyncConnection, table: sa.Table, letters: Sequence[DeadLetter]
) -> list[tuple[str, int, int]]:
    """Record ``letters`` once per source offset, inside the batch's transaction; returns the
    (topic, partition, offset) of each row inserted now. A row retention deleted is inserted
    again on a redelivery: progress.record counts only offsets past the persisted one.
    Rows the table refuses in full are stored in their minimal form (the topic still gets the
    full letter if it can take it)."""
    if not letters:
        return []
    try:
        async with conn.begin_nested():  # a savepoint: a failure here spares the batch
            rows = await conn.execute(_insert(table), _params(letters))
    except Exception as exc:  # noqa: BLE001 - whatever it was, the minimal form follows
        log.warning("dead letters not storable in full (%r); storing the minimal form", exc)
        # If even this fails, the database itself is in trouble: the batch is retried.
        rows = await conn.execute(_insert(table), _params([d.as_minimal(exc) for d in letters]))
    return [(t, p, o) for t, p, o in rows]


def _params(letters: Sequence[DeadLetter]) -> dict[str, BinaryArray]:
    rs = [d.rejected for d in letters]
    return arrays(
        topic=(r.topic for r in rs),
        partition=(r.partition for r in rs),
        kafka_offset=(r.offset for r in rs),
        event_id=(r.event_id for r in rs),
        reason=(r.reason for r in rs),
        error=(d.error for d in letters),
        payload=(d.payload for d in letters),
        payload_size=(d.size for d in letters),
        payload_sha256=(d.sha256 for d in letters),
    )
