"""audit's tables: one row per event (its inbox row), its raw payload, where it came from, and
how often it came; a row per redelivery."""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import consumer_tables

SCHEMA = "audit"
metadata = sa.MetaData()
# audit's event row is its inbox row (migration 0007): what its events table repeated of the
# inbox (id, partition, offset, first seen) is not written twice, and one event_id index serves.
consumer = consumer_tables(
    SCHEMA,
    metadata,
    carried=(
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),  # raw, exactly as received
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column(
            "last_seen", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("delivery_count", sa.Integer, nullable=False, server_default="1"),
        # The first delivery's place in the order deliveries were applied (redeliveries' id).
        sa.Column(
            "delivery_seq",
            sa.BigInteger,
            nullable=False,
            server_default=sa.text("nextval('audit.delivery_seq')"),
        ),
    ),
)
inbox, progress, dead_letters = consumer.inbox, consumer.progress, consumer.dead_letters

# A view of the inbox: one row per event, as it was before 0007 (first_seen is persisted_at).
events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("event_type", sa.Text),
    sa.Column("payload", sa.Text),
    sa.Column("topic", sa.Text),
    sa.Column("partition", sa.Integer),
    sa.Column("kafka_offset", sa.BigInteger),
    sa.Column("first_seen", sa.DateTime(timezone=True)),
    sa.Column("last_seen", sa.DateTime(timezone=True)),
    sa.Column("delivery_count", sa.Integer),
    sa.Column("delivery_seq", sa.BigInteger),
    schema=SCHEMA,
)

# Every redelivery (the first delivery is the event row itself: migration 0006).
redeliveries = sa.Table(
    "redeliveries",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),  # delivery_seq, as events' own
    sa.Column("event_id", sa.Uuid, nullable=False, index=True),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("kafka_offset", sa.BigInteger, nullable=False),
    sa.Column(
        "delivered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    schema=SCHEMA,
)

# A view: every delivery, first (applied, from events) and redelivered (absorbed) alike, in
# the order applied (id). Audit is where redelivery is visible.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.BigInteger),
    sa.Column("event_id", sa.Uuid),
    sa.Column("topic", sa.Text),
    sa.Column("partition", sa.Integer),
    sa.Column("kafka_offset", sa.BigInteger),
    sa.Column("applied", sa.Boolean),  # false: absorbed as a duplicate
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    schema=SCHEMA,
)
# Kept RETENTION_HOURS (shared/retention.py): events.delivery_count keeps the totals, and
# each event's first delivery stays with its row.
RETAINED = (("redeliveries", "delivered_at"),)
