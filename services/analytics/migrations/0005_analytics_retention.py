"""analytics: retention — its role may delete its old dead letters, found by
an index on their time (shared/retention.py).

Revision ID: analytics_0005
"""

from shared.migration_ops import downgrade_consumer_tables_v5, upgrade_consumer_tables_v5

revision = "analytics_0005"
down_revision = "analytics_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v5("analytics")


def downgrade() -> None:
    downgrade_consumer_tables_v5("analytics")
