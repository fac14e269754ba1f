"""Operations the services' Alembic migrations share: schema, role, least-privilege grants."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op
from psycopg import sql

from shared.schema import READER_ROLE, consumer_tables


def create_service_schema(schema: str, metadata: sa.MetaData) -> None:
    """Schema, role and grants; called by each service's first migration."""
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    # inbox/progress as of revision 0001; a later change to them needs its own migration.
    consumer_tables(schema, metadata)
    metadata.create_all(op.get_bind())
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{schema}') "
        f"THEN CREATE ROLE {schema} LOGIN; END IF; END $$"
    )
    set_password(schema, os.environ.get(f"{schema.upper()}_DB_PASSWORD", schema))
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') "
        f"THEN CREATE ROLE {READER_ROLE} LOGIN; END IF; END $$"
    )
    set_password(READER_ROLE, os.environ.get("READER_DB_PASSWORD", READER_ROLE))
    # Least privilege: the service may read and write its own tables and nothing else.
    # SELECT is needed too: INSERT ... ON CONFLICT must read the conflict columns.
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {schema}, {READER_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {schema}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {schema}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {READER_ROLE}")


def set_password(role: str, password: str) -> None:
    """ALTER ROLE ... PASSWORD with the value quoted by psycopg (a utility statement takes no
    bind parameters), sent on the migration's own connection and transaction."""
    driver = op.get_bind().connection.driver_connection
    assert driver is not None
    stmt = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(password))
    driver.execute(stmt)


def drop_service_schema(schema: str) -> None:
    op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    op.execute(f"DROP ROLE IF EXISTS {schema}")
