"""billing: offsets with no record for a read_committed reader (transaction markers, aborted
records) counted in progress.skipped.

Revision ID: billing_0003
"""

from shared.migration_ops import downgrade_consumer_tables_v3, upgrade_consumer_tables_v3

revision = "billing_0003"
down_revision = "billing_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v3("billing")


def downgrade() -> None:
    downgrade_consumer_tables_v3("billing")
