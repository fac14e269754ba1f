"""The overview's Restarts panel and badge under a real `./fanout up --infra-only`: while the
SIGKILLed postmaster waits for its restart the badge says "postgres down"; once it is back the
panel shows its restart and last exit, and the badge every process up. The first restart is
delayed 8 s here (FANOUT_RESTART_FIRST_S) so a page polling every 1.5 s surely sees the outage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from infra.local.supervisor import Supervisor
from infra.polling import wait_for
from tests.browser.helpers import SHOWN_WITHIN_MS, cell, off_loop, shows
from tests.support.kafka import new_topic
from tests.support.processes import ServiceProcess, stopped_at_exit
from tests.support.supervised import SupervisedStack, start_supervised
from tests.support.web import health

pytestmark = pytest.mark.browser


@pytest.fixture
def sup() -> Iterator[SupervisedStack]:
    supervised = off_loop(start_supervised, "browser-supervised", FANOUT_RESTART_FIRST_S="8")
    try:
        yield supervised
    finally:
        off_loop(supervised.stop)


def test_overview_shows_the_outage_then_each_processs_restarts(
    sup: SupervisedStack, page: Page
) -> None:
    topic = off_loop(new_topic, sup.stack.bootstrap, "restarts-panel", 1)
    off_loop(sup.stack.provision, topic)  # the operator's ACLs: the publisher may write it
    publisher = ServiceProcess("publisher", {"EVENTS_TOPIC": topic}, Supervisor(sup.stack))
    with stopped_at_exit(publisher.start()):
        answers = publisher.alive_and(lambda: health(publisher.port)["status"] == 200)
        wait_for(answers, timeout=60, what="the publisher to answer", detail=lambda: publisher.log)
        page.goto(f"http://127.0.0.1:{publisher.port}/overview")
        badge = page.locator("#sup-status")
        expect(badge).to_have_text("every process up", timeout=SHOWN_WITHIN_MS)
        shows(cell(page, "restarts", "postgres", "restarts"), "0")
        sup.kill("postgres")
        expect(badge).to_have_text("postgres down", timeout=SHOWN_WITHIN_MS)
        expect(badge).to_have_class("badge bad")
        shows(cell(page, "restarts", "postgres", "state"), "down")
        sup.wait_back("postgres", 1, timeout=60)
        expect(badge).to_have_text("every process up", timeout=SHOWN_WITHIN_MS)
        shows(cell(page, "restarts", "postgres", "restarts"), "1")
        shows(cell(page, "restarts", "postgres", "last_exit"), "-9")
        shows(cell(page, "restarts", "kafka", "restarts"), "0")
        page.screenshot(path=str(sup.stack.home / "overview-restarts.png"), full_page=True)
