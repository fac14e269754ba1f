"""analytics: exact reconciliation (progress.copies) and bounded dead letters (size, hash).

Revision ID: analytics_0002
"""

from shared.migration_ops import downgrade_consumer_tables_v2, upgrade_consumer_tables_v2

revision = "analytics_0002"
down_revision = "analytics_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v2("analytics")


def downgrade() -> None:
    downgrade_consumer_tables_v2("analytics")
