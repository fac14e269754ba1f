"""analytics: schema, role, inbox/progress and per-minute counts.

Revision ID: analytics_0001
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401 - alembic's migration context

from shared.migration_ops import create_service_schema, drop_service_schema

revision = "analytics_0001"
down_revision = None
branch_labels = ("analytics",)
depends_on = None


def upgrade() -> None:
    md = sa.MetaData()
    sa.Table(
        "type_minute_counts",
        md,
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("event_type", sa.Text, primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
        schema="analytics",
    )
    create_service_schema("analytics", md)


def downgrade() -> None:
    drop_service_schema("analytics")
