"""A dashboard keeps running when the database or the broker goes away: it says so, keeps
showing what the other side knows, and recovers by itself when they come back."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from infra.local.stack import Stack
from tests.browser.helpers import SHOWN_WITHIN_MS, n, off_loop, shows
from tests.support.db import Db
from tests.support.kafka import new_topic
from tests.support.processes import running_services
from tests.support.publishing import publish_events
from tests.support.reconcile import wait_persisted

pytestmark = pytest.mark.browser
EVENTS = 500


def test_dashboard_reports_database_and_broker_outages_and_recovers(
    stack: Stack, clean_db: Db, page: Page, screenshots: Path
) -> None:
    db, bootstrap, pg = clean_db, stack.bootstrap, stack.postgres
    assert pg is not None, "the test stack runs its own PostgreSQL"
    topic = off_loop(new_topic, bootstrap, "degraded", 3)
    off_loop(publish_events, bootstrap, topic, EVENTS, seed=51)
    with running_services(stack, topic, ("analytics",)) as procs:
        wait_persisted(db, "analytics", EVENTS, proc=procs["analytics"])
        page.goto(f"http://127.0.0.1:{procs['analytics'].port}/")
        shows(page.locator("#processed"), n(EVENTS))
        db_badge, broker_badge = page.locator("#db-status"), page.locator("#broker-status")
        try:
            off_loop(pg.stop)
            expect(db_badge).to_have_text("database down", timeout=SHOWN_WITHIN_MS)
            expect(broker_badge).to_have_text("broker reachable")
            expect(page.locator("#errors")).to_be_visible()  # the failing panels say why
            page.screenshot(path=str(screenshots / "analytics-database-down.png"), full_page=True)
        finally:
            off_loop(pg.start)
        expect(db_badge).to_have_text("database up", timeout=SHOWN_WITHIN_MS)
        shows(page.locator("#processed"), n(EVENTS))
        try:
            off_loop(stack.kafka.stop)  # off Playwright's thread: the broker helpers use asyncio
            expect(broker_badge).to_have_text("broker unreachable", timeout=SHOWN_WITHIN_MS)
            shows(page.locator("#processed"), n(EVENTS))  # the database side still shows
            shows(page.locator("#lag"), "–")  # unknown, not zero
        finally:
            off_loop(stack.kafka.start)
        expect(broker_badge).to_have_text("broker reachable", timeout=SHOWN_WITHIN_MS)
        shows(page.locator("#lag"), "0")
