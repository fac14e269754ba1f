"""Role passwords reach PostgreSQL as data, never as SQL: quotes, backslashes, dollar quoting
and statement separators in a password change nothing but the password."""

from __future__ import annotations

from urllib.parse import urlsplit

import psycopg
from alembic.migration import MigrationContext
from alembic.operations import Operations

from shared.db import sync_engine
from shared.migration_ops import set_password

HOSTILE = "it's \\'; DROP ROLE quoting_probe; -- $$ \" %s :name"


def test_set_password_quotes_any_value(admin_url: str) -> None:
    engine = sync_engine(admin_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP ROLE IF EXISTS quoting_probe")
        conn.exec_driver_sql("CREATE ROLE quoting_probe LOGIN")
        with Operations.context(MigrationContext.configure(conn)):
            set_password("quoting_probe", HOSTILE)
    try:
        db = urlsplit(admin_url)
        with psycopg.connect(
            host=db.hostname,
            port=db.port,
            dbname="fanout",
            user="quoting_probe",
            password=HOSTILE,
        ) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("quoting_probe",)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP ROLE quoting_probe")
        engine.dispose()
