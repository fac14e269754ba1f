"""audit: schema, role, inbox/progress and the per-event audit trail.

Revision ID: audit_0001
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401 - alembic's migration context

from shared.migration_ops import create_service_schema, drop_service_schema

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None


def upgrade() -> None:
    md = sa.MetaData()
    sa.Table(
        "events",
        md,
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column(
            "first_seen", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "last_seen", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("delivery_count", sa.Integer, nullable=False, server_default="1"),
        schema="audit",
    )
    sa.Table(
        "deliveries",
        md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, index=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("applied", sa.Boolean, nullable=False),
        sa.Column(
            "delivered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="audit",
    )
    create_service_schema("audit", md)


def downgrade() -> None:
    drop_service_schema("audit")
