"""billing's tables: a ledger of buy/sell entries and a balance per user."""

from __future__ import annotations

import sqlalchemy as sa

from shared.schema import consumer_tables

SCHEMA = "billing"
metadata = sa.MetaData()
consumer = consumer_tables(SCHEMA, metadata)
inbox, progress, dead_letters = consumer.inbox, consumer.progress, consumer.dead_letters

ledger = sa.Table(
    "ledger",
    metadata,
    # seq records the order entries were applied in (per-user order is checked on it).
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("amount", sa.Numeric(14, 2), nullable=False),  # buy < 0 (debit), sell > 0
    sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
    schema=SCHEMA,
)

balances = sa.Table(
    "balances",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("balance", sa.Numeric(16, 2), nullable=False),
    sa.Column("entries", sa.BigInteger, nullable=False),
    schema=SCHEMA,
)
