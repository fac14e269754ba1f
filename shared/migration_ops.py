"""Operations the services' Alembic migrations share: schema, role, least-privilege grants."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

from shared.schema import READER_ROLE, consumer_tables


def create_service_schema(schema: str, metadata: sa.MetaData) -> None:
    """Schema, role and grants; called by each service's first migration."""
    password = os.environ.get(f"{schema.upper()}_DB_PASSWORD", schema)
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    # inbox/progress as of revision 0001; a later change to them needs its own migration.
    consumer_tables(schema, metadata)
    metadata.create_all(op.get_bind())
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{schema}') "
        f"THEN CREATE ROLE {schema} LOGIN; END IF; END $$"
    )
    op.execute(f"ALTER ROLE {schema} PASSWORD '{password}'")
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') "
        f"THEN CREATE ROLE {READER_ROLE} LOGIN PASSWORD '{READER_ROLE}'; END IF; END $$"
    )
    # Least privilege: the service may read and write its own tables and nothing else.
    # SELECT is needed too: INSERT ... ON CONFLICT must read the conflict columns.
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {schema}, {READER_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {schema}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {schema}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {READER_ROLE}")


def drop_service_schema(schema: str) -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    op.execute(f"DROP ROLE IF EXISTS {schema}")
