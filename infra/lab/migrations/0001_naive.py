"""naive: the counter-example's schema (infra/lab/naive.py), its tables and its role.

Its table has no key on event_id on purpose: a redelivered event is written again. The role
cannot log in until a scenario gives it a password of the run's own (and takes it back).

Revision ID: naive_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.schema import READER_ROLE

revision = "naive_0001"
down_revision = None
branch_labels = ("naive",)
depends_on = None

SCHEMA = ROLE = "naive"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    md = sa.MetaData()
    sa.Table(
        "writes",
        md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consumer_group", sa.Text, nullable=False, index=True),
        sa.Column("event_id", sa.Uuid, nullable=False),  # no unique key: the point
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(14, 2)),
        schema=SCHEMA,
    )
    sa.Table(
        "totals",
        md,
        sa.Column("consumer_group", sa.Text, primary_key=True),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("amount", sa.Numeric(16, 2), nullable=False),
        schema=SCHEMA,
    )
    md.create_all(op.get_bind())
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') "
        f"THEN CREATE ROLE {ROLE} NOLOGIN; END IF; END $$"
    )
    # The services' branches set the reader's password; this branch may run before them.
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') "
        f"THEN CREATE ROLE {READER_ROLE} LOGIN; END IF; END $$"
    )
    # Least privilege: its own two tables, nothing else (SELECT: its totals' upsert reads).
    op.execute(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {ROLE}, {READER_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {SCHEMA} TO {ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {ROLE}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {READER_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    op.execute(f"DROP ROLE IF EXISTS {ROLE}")
