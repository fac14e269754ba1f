"""analytics' tables: counts per event type per minute (totals are their sum)."""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import consumer_tables

SCHEMA = "analytics"
metadata = sa.MetaData()
consumer = consumer_tables(SCHEMA, metadata)
inbox, progress, dead_letters = consumer.inbox, consumer.progress, consumer.dead_letters

type_minute_counts = sa.Table(
    "type_minute_counts",
    metadata,
    sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
    sa.Column("event_type", sa.Text, primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
    schema=SCHEMA,
)
