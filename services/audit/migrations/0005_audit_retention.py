"""audit: retention — its role may delete its old dead letters and deliveries, found by
an index on their time (shared/retention.py).

Revision ID: audit_0005
"""

from shared.migration_ops import downgrade_consumer_tables_v5, upgrade_consumer_tables_v5

revision = "audit_0005"
down_revision = "audit_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v5("audit", (("deliveries", "delivered_at"),))


def downgrade() -> None:
    downgrade_consumer_tables_v5("audit", (("deliveries", "delivered_at"),))
