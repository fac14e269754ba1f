"""Role passwords reach PostgreSQL as data, never as SQL: quotes, backslashes, dollar quoting
and statement separators in a password change nothing but the password."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import psycopg
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations

from infra.local.stack import Stack
from infra.postgres.server import ROLES
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


def test_local_role_passwords_are_random_kept_mode_600_and_the_names_refused(stack: Stack) -> None:
    """The local cluster's role passwords are not the roles' names: kept beside the
    superuser's (mode 600, root's folder), and a login with the name as password fails."""
    server = stack.postgres
    assert server is not None
    path = server.role_passwords_file
    assert (path.stat().st_mode & 0o777, path.stat().st_uid) == (0o600, os.geteuid())
    kept = dict(line.split("=", 1) for line in path.read_text().splitlines())
    assert set(kept) == set(ROLES)
    for role, password in kept.items():
        assert password != role and role not in password and len(password) == 32, role
        assert f":{password}@" in server.role_url(role)
        with psycopg.connect(server.role_url(role), connect_timeout=5) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(server.role_url(role).replace(password, role), connect_timeout=5)
