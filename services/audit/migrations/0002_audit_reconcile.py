"""audit: exact reconciliation (progress.copies) and bounded dead letters (size, hash).

Revision ID: audit_0002
"""

from shared.migration_ops import downgrade_consumer_tables_v2, upgrade_consumer_tables_v2

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_consumer_tables_v2("audit")


def downgrade() -> None:
    downgrade_consumer_tables_v2("audit")
