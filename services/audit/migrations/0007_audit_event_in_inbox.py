"""audit: the event row is the inbox row; ``audit.events`` becomes a view of it.

Measured before choosing (README, Throughput): audit's events row repeated what its inbox row
holds (event id, partition, offset, first seen) with a second random-UUID index, and cost a
second COPY row per event in the service. The inbox row now carries audit's own columns
(``shared.inbox.Carried``). The view keeps every reader's query as it was: ``first_seen`` is
the inbox's ``persisted_at`` (both were the first delivery's transaction time).

Revision ID: audit_0007
"""

from alembic import op

revision = "audit_0007"
down_revision = "audit_0006"
branch_labels = None
depends_on = None

CARRIED = {
    "event_type": "text",
    "payload": "text",
    "topic": "text",
    "last_seen": "timestamptz",
    "delivery_count": "integer",
    "delivery_seq": "bigint",
}
NAMES = ", ".join(CARRIED)
EVENTS_VIEW = """
CREATE VIEW audit.events AS
    SELECT event_id, event_type, payload, topic, partition, kafka_offset,
           persisted_at AS first_seen, last_seen, delivery_count, delivery_seq
    FROM audit.inbox
"""
DELIVERIES_VIEW = """
CREATE VIEW audit.deliveries AS
    SELECT delivery_seq AS id, event_id, topic, partition, kafka_offset, true AS applied,
           first_seen AS delivered_at
    FROM audit.events
    UNION ALL
    SELECT id, event_id, topic, partition, kafka_offset, false, delivered_at
    FROM audit.redeliveries
"""
DEFAULTS = {
    "last_seen": "now()",
    "delivery_count": "1",
    "delivery_seq": "nextval('audit.delivery_seq')",
}


def upgrade() -> None:
    adds = ", ".join(f"ADD COLUMN {c} {t}" for c, t in CARRIED.items())
    op.execute(f"ALTER TABLE audit.inbox {adds}")
    sets = ", ".join(f"{c} = e.{c}" for c in CARRIED)
    # Every inbox row has its events row: both were written in one transaction.
    op.execute(f"UPDATE audit.inbox i SET {sets} FROM audit.events e WHERE e.event_id = i.event_id")
    op.execute("DROP VIEW audit.deliveries")
    op.execute("DROP TABLE audit.events")
    alters = [f"ALTER COLUMN {c} SET DEFAULT {v}" for c, v in DEFAULTS.items()]
    alters += [f"ALTER COLUMN {c} SET NOT NULL" for c in CARRIED]
    op.execute(f"ALTER TABLE audit.inbox {', '.join(alters)}")
    op.execute(EVENTS_VIEW)
    op.execute(DELIVERIES_VIEW)
    op.execute("GRANT SELECT ON audit.events, audit.deliveries TO audit, fanout_reader")


def downgrade() -> None:
    op.execute("DROP VIEW audit.deliveries")
    op.execute("DROP VIEW audit.events")
    op.execute(
        "CREATE TABLE audit.events (event_id uuid PRIMARY KEY, event_type text NOT NULL,"
        " payload text NOT NULL, topic text NOT NULL, partition integer NOT NULL,"
        " kafka_offset bigint NOT NULL, first_seen timestamptz NOT NULL DEFAULT now(),"
        " last_seen timestamptz NOT NULL DEFAULT now(), delivery_count integer NOT NULL"
        " DEFAULT 1, delivery_seq bigint NOT NULL DEFAULT nextval('audit.delivery_seq'))"
    )
    op.execute(
        f"INSERT INTO audit.events (event_id, partition, kafka_offset, first_seen, {NAMES})"
        f" SELECT event_id, partition, kafka_offset, persisted_at, {NAMES} FROM audit.inbox"
    )
    drops = ", ".join(f"DROP COLUMN {c}" for c in CARRIED)
    op.execute(f"ALTER TABLE audit.inbox {drops}")
    op.execute(DELIVERIES_VIEW)
    op.execute("GRANT SELECT, INSERT, UPDATE ON audit.events TO audit")
    op.execute("GRANT SELECT ON audit.events, audit.deliveries TO audit, fanout_reader")
