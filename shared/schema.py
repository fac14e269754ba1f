"""What every service's schema has in common, for its migrations and for the consume loop.

- ``inbox``: one row per event id the service has applied, with a fingerprint of its payload;
  ``ON CONFLICT DO NOTHING`` on it absorbs a redelivered duplicate, and the fingerprint tells a
  redelivery from a *conflicting* duplicate (same id, other payload).
- ``progress``: per topic partition, the highest persisted offset and the counters — written in
  the same transaction as the batch. Every offset of a topic is counted once, as exactly one
  of: ``processed`` (applied), ``copies`` (the same event published again at another offset,
  absorbed), ``invalid`` (dead-lettered) or ``skipped`` (a transaction marker or an aborted
  record: nothing to read); so ``persisted_offset + 1`` is their sum on each partition.
  ``duplicates`` counts every absorbed delivery, redeliveries of an offset already persisted
  included: what a crash or a replay cost.
- ``dead_letters``: every event the service could not accept, once per source offset, with a
  bounded payload (the whole value stays readable at its source offset), its size and hash.
- ``offsets``: per consumer group and topic partition, the next offset to read and its owner
  (epoch, instance) — the committed offset of ``OFFSET_STORE=database``, written in the
  batch's own transaction with a compare-and-set on (epoch, expected offset); see
  ``shared.offsets``. Unused (and left as it is) in ``kafka`` mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

READER_ROLE = "fanout_reader"  # read-only role for dashboards, CLI and reconcile


@dataclass(frozen=True)
class ConsumerTables:
    inbox: sa.Table
    progress: sa.Table
    dead_letters: sa.Table
    offsets: sa.Table


def consumer_tables(
    schema: str, metadata: sa.MetaData, carried: Sequence[sa.Column[Any]] = ()
) -> ConsumerTables:
    """``carried``: the service's own columns on its inbox (``shared.inbox.Carried``)."""
    return ConsumerTables(
        _inbox(schema, metadata, carried),
        _progress(schema, metadata),
        _dead_letters(schema, metadata),
        offsets_table(schema, metadata),
    )


def _inbox(schema: str, metadata: sa.MetaData, carried: Sequence[sa.Column[Any]]) -> sa.Table:
    return sa.Table(
        "inbox",
        metadata,
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "persisted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        *carried,
        schema=schema,
    )


def _progress(schema: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "progress",
        metadata,
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("persisted_offset", sa.BigInteger, nullable=False),
        sa.Column("processed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("invalid", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_event_time", sa.DateTime(timezone=True)),
        sa.Column("copies", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        # Offsets with no record for a read_committed reader: transaction markers, aborted.
        sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
        schema=schema,
    )


def _dead_letters(schema: str, metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "dead_letters",
        metadata,
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("kafka_offset", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.Uuid),  # when the value had a valid one
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        # The first bytes of the value (all of it up to the bound); NULL for a tombstone or
        # when only the minimal form could be stored (then ``error`` says why).
        sa.Column("payload", sa.LargeBinary),
        sa.Column(
            "dead_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("payload_size", sa.Integer),  # of the whole value; NULL for a tombstone
        sa.Column("payload_sha256", sa.LargeBinary),
        schema=schema,
    )


def offsets_table(schema: str, metadata: sa.MetaData) -> sa.Table:
    """Per group and partition: the next offset to read, and who owns it (``shared.offsets``)."""
    return sa.Table(
        "offsets",
        metadata,
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("owner_epoch", sa.BigInteger, nullable=False),
        sa.Column("owner_instance", sa.Text, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )
