"""Operations the services' Alembic migrations share: schema, role, least-privilege grants."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from psycopg import sql

from shared.schema import READER_ROLE
from shared.secret_files import role_secret


def create_service_schema(schema: str, metadata: sa.MetaData) -> None:
    """Schema, role and grants; called by each service's first migration."""
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    consumer_tables_v1(schema, metadata)
    metadata.create_all(op.get_bind())
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{schema}') "
        f"THEN CREATE ROLE {schema} LOGIN; END IF; END $$"
    )
    set_password(schema, role_secret(f"{schema.upper()}_DB_PASSWORD", schema, _admin_password()))
    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER_ROLE}') "
        f"THEN CREATE ROLE {READER_ROLE} LOGIN; END IF; END $$"
    )
    set_password(READER_ROLE, role_secret("READER_DB_PASSWORD", READER_ROLE, _admin_password()))
    # Least privilege: the service may read and write its own tables and nothing else.
    # SELECT is needed too: INSERT ... ON CONFLICT must read the conflict columns.
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {schema}, {READER_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {schema} TO {schema}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {schema}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {READER_ROLE}")


def _admin_password() -> str:
    """The password the migration connected with: the root of the local roles' passwords."""
    return op.get_bind().engine.url.password or ""


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


def consumer_tables_v1(schema: str, metadata: sa.MetaData) -> None:
    """inbox, progress and dead_letters as revision 0001 created them. Frozen on purpose: the
    live definition (shared/schema.py) is what the latest revision leaves, not this; and long
    on purpose too (three tables' DDL, read as one record of revision 0001)."""
    now = sa.func.now()
    sa.Table(
        "inbox",
        metadata,
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("fingerprint", sa.LargeBinary, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("persisted_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        schema=schema,
    )
    sa.Table(
        "progress",
        metadata,
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("persisted_offset", sa.BigInteger, nullable=False),
        *(
            sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
            for name in ("processed", "duplicates", "invalid")
        ),
        sa.Column("last_event_time", sa.DateTime(timezone=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        schema=schema,
    )
    sa.Table(
        "dead_letters",
        metadata,
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("kafka_offset", sa.BigInteger, primary_key=True),
        sa.Column("event_id", sa.Uuid),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("dead_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        schema=schema,
    )


def upgrade_consumer_tables_v2(schema: str) -> None:
    """Revision 0002 of every service: exact reconciliation (``progress.copies``) and bounded
    dead letters (``dead_letters.payload_size``, ``payload_sha256``)."""
    op.add_column(
        "progress",
        sa.Column("copies", sa.BigInteger, nullable=False, server_default="0"),
        schema=schema,
    )
    op.add_column("dead_letters", sa.Column("payload_size", sa.Integer), schema=schema)
    op.add_column("dead_letters", sa.Column("payload_sha256", sa.LargeBinary), schema=schema)


def downgrade_consumer_tables_v2(schema: str) -> None:
    op.drop_column("progress", "copies", schema=schema)
    op.drop_column("dead_letters", "payload_size", schema=schema)
    op.drop_column("dead_letters", "payload_sha256", schema=schema)


def upgrade_consumer_tables_v3(schema: str) -> None:
    """Revision 0003 of every service: ``progress.skipped`` (transaction markers and aborted
    records, which a read_committed consumer never sees, accounted for)."""
    op.add_column(
        "progress",
        sa.Column("skipped", sa.BigInteger, nullable=False, server_default="0"),
        schema=schema,
    )


def downgrade_consumer_tables_v3(schema: str) -> None:
    op.drop_column("progress", "skipped", schema=schema)


def upgrade_consumer_tables_v4(schema: str) -> None:
    """Revision 0004 of every service: ``offsets`` (OFFSET_STORE=database keeps each
    partition's next offset in the batch's transaction), with the grants 0001 gave the rest."""
    op.create_table(  # frozen, like consumer_tables_v1: shared/schema.py is the live definition
        "offsets",
        sa.Column("group_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("partition", sa.Integer, primary_key=True),
        sa.Column("next_offset", sa.BigInteger, nullable=False),
        sa.Column("owner_epoch", sa.BigInteger, nullable=False),
        sa.Column("owner_instance", sa.Text, nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema=schema,
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {schema}.offsets TO {schema}")
    op.execute(f"GRANT SELECT ON {schema}.offsets TO {READER_ROLE}")


def downgrade_consumer_tables_v4(schema: str) -> None:
    op.drop_table("offsets", schema=schema)


def upgrade_consumer_tables_v5(schema: str, retained: tuple[tuple[str, str], ...] = ()) -> None:
    """Revision 0005 of every service: retention (shared/retention.py). The service may
    delete its old dead letters (and its own history tables), found by an index on time."""
    for table, column in (("dead_letters", "dead_at"), *retained):
        op.create_index(f"ix_{table}_{column}", table, [column], schema=schema)
        op.execute(f"GRANT DELETE ON {schema}.{table} TO {schema}")


def downgrade_consumer_tables_v5(schema: str, retained: tuple[tuple[str, str], ...] = ()) -> None:
    for table, column in (("dead_letters", "dead_at"), *retained):
        op.execute(f"REVOKE DELETE ON {schema}.{table} FROM {schema}")
        op.drop_index(f"ix_{table}_{column}", table, schema=schema)
