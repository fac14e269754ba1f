"""The render path: a valid event whose text is markup shows as that text, never as markup,
and an unreadable time already in the database shows as unknown, not as a broken page."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from infra.local.stack import Stack
from tests.browser.helpers import cell, off_loop, shows
from tests.support.db import Db
from tests.support.kafka import new_topic, produce
from tests.support.processes import running_services
from tests.support.publishing import altered, generate
from tests.support.reconcile import wait_persisted

pytestmark = pytest.mark.browser
HOSTILE_USER = "<img src=x onerror=document.title=1>[/x]{{user}}"


def test_markup_in_an_event_is_shown_as_text(stack: Stack, clean_db: Db, page: Page) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = off_loop(new_topic, bootstrap, "render", 1)
    buys = [
        altered(e, user_id=HOSTILE_USER, event_type="buy", amount=Decimal(1))
        for e in generate(3, seed=61)
    ]
    values = [e.to_json() for e in buys]
    assert off_loop(asyncio.run, produce(bootstrap, topic, values)) == 3
    with running_services(stack, topic, ("billing",)) as procs:
        wait_persisted(db, "billing", 3, proc=procs["billing"])
        db.execute("UPDATE billing.inbox SET event_time = '9999-12-31T23:59:59-14:00'")
        page.goto(f"http://127.0.0.1:{procs['billing'].port}/")
        shows(cell(page, "balances", HOSTILE_USER, "user_id"), HOSTILE_USER)
        shows(cell(page, "recent", buys[0].event_id, "user_id"), HOSTILE_USER)
        shows(cell(page, "recent", buys[0].event_id, "event_time"), "–")
        expect(page.locator("#balances img, #recent img")).to_have_count(0)
        assert page.title() != "1"
