"""billing: retention — its role may delete its old dead letters, found by
an index on their time (shared/retention.py).

Revision ID: billing_0005
"""

from shared.migration_ops import downgrade_consumer_tables_v5, upgrade_consumer_tables_v5

revision = "billing_0005"
down_revision = "billing_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v5("billing")


def downgrade() -> None:
    downgrade_consumer_tables_v5("billing")
