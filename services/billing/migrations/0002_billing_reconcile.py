"""billing: exact reconciliation (progress.copies) and bounded dead letters (size, hash).

Revision ID: billing_0002
"""

from shared.migration_ops import downgrade_consumer_tables_v2, upgrade_consumer_tables_v2

revision = "billing_0002"
down_revision = "billing_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v2("billing")


def downgrade() -> None:
    downgrade_consumer_tables_v2("billing")
