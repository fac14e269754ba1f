"""What every service's schema has in common, for its migrations and for the consume loop.

- ``inbox``: one row per event id the service has applied; ``ON CONFLICT DO NOTHING`` on it is
  what absorbs a redelivered duplicate.
- ``progress``: per partition, the highest persisted offset and the counters (processed,
  duplicates absorbed, invalid) — written in the same transaction as the batch.
"""

from __future__ import annotations

import sqlalchemy as sa

READER_ROLE = "fanout_reader"  # read-only role for dashboards, CLI and reconcile


def consumer_tables(schema: str, metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    inbox = sa.Table(
        "inbox", metadata,
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("persisted_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        schema=schema,
    )
    progress = sa.Table(
        "progress", metadata,
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("persisted_offset", sa.BigInteger, nullable=False),
        sa.Column("processed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("duplicates", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("invalid", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_event_time", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        schema=schema,
    )
    return inbox, progress
