"""billing: schema, role, inbox/progress, ledger and balances.

Revision ID: billing_0001
"""

import sqlalchemy as sa
from alembic import op  # noqa: F401 - alembic's migration context

from shared.migration_ops import create_service_schema, drop_service_schema

revision = "billing_0001"
down_revision = None
branch_labels = ("billing",)
depends_on = None


def upgrade() -> None:
    md = sa.MetaData()
    sa.Table(
        "ledger",
        md,
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        schema="billing",
    )
    sa.Table(
        "balances",
        md,
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("balance", sa.Numeric(16, 2), nullable=False),
        sa.Column("entries", sa.BigInteger, nullable=False),
        schema="billing",
    )
    create_service_schema("billing", md)


def downgrade() -> None:
    drop_service_schema("billing")
