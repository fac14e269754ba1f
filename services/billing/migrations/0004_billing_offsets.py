"""billing: the offsets table (OFFSET_STORE=database: each partition's next offset, owner epoch
and instance, written in the batch's own transaction).

Revision ID: billing_0004
"""

from shared.migration_ops import downgrade_consumer_tables_v4, upgrade_consumer_tables_v4

revision = "billing_0004"
down_revision = "billing_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v4("billing")


def downgrade() -> None:
    downgrade_consumer_tables_v4("billing")
