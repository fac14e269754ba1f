"""Session fixtures: a real Kafka broker and a real PostgreSQL, private to the test run.

They start once per session on their own ports and state folder (.state/test), so a running
`./fanout up` is not disturbed. If either cannot start, every test that needs it errors:
an integration test is never turned into a skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from infra.init import migrate
from infra.local.stack import Stack
from infra.settings import suite_settings
from tests.support.db import Db


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    st = Stack(suite_settings(), "test")
    shutil.rmtree(st.home, ignore_errors=True)  # every run starts from empty state
    try:
        st.start_infra()
        migrate(st.database_url)
        yield st
    finally:
        st.stop_infra()


@pytest.fixture(scope="session")
def bootstrap(stack: Stack) -> str:
    return stack.bootstrap


@pytest.fixture(scope="session")
def admin_url(stack: Stack) -> str:
    return stack.database_url


@pytest.fixture(scope="session")
def db(admin_url: str) -> Db:
    return Db(admin_url)


@pytest.fixture
def clean_db(db: Db) -> Db:
    """Service tables emptied: each pipeline test counts only its own events."""
    db.truncate_services()
    return db
