"""Each service's dashboard, loaded while events flow, shows exactly the database's numbers
and keeps updating without a reload."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from infra.stack import Stack
from shared.broker import committed_offsets, log_end_offsets
from tests.browser.helpers import cell, in_background, money, n, off_loop, shows
from tests.db import Db
from tests.helpers import new_topic
from tests.pipeline import balances, publish_events, wait_committed_to_end, wait_persisted
from tests.services import SERVICES, ServiceProcess, running_services

pytestmark = pytest.mark.browser
PARTITIONS = 6
FIRST, SECOND = 3_000, 1_000


def open_dashboard(browser: Browser, proc: ServiceProcess, errors: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(f"{proc.name}: {exc}"))
    page.goto(f"http://127.0.0.1:{proc.port}/")
    expect(page.locator("#updated")).to_contain_text("updated", timeout=30_000)
    return page


def settle(stack: Stack, db: Db, procs: dict[str, ServiceProcess], topic: str, total: int) -> None:
    for name, p in procs.items():
        wait_persisted(db, name, total, proc=p)
        off_loop(wait_committed_to_end, stack.bootstrap, p.env["CONSUMER_GROUP"], topic)


def check_common(page: Page, db: Db, name: str, group: str, bootstrap: str, topic: str) -> None:
    sums = db.progress_sums(name)
    shows(page.locator("#processed"), n(sums["processed"]))
    shows(page.locator("#duplicates"), n(sums["duplicates"]))
    shows(page.locator("#invalid"), n(sums["invalid"]))
    shows(page.locator("#lag"), "0")
    shows(page.locator("#window"), "0")
    ends = off_loop(asyncio.run, log_end_offsets(bootstrap, topic))
    committed = off_loop(asyncio.run, committed_offsets(bootstrap, group, topic))
    persisted = dict(
        db.all(f"SELECT partition, persisted_offset FROM {name}.progress WHERE topic = %s", topic)
    )
    for p, end in ends.items():
        shows(cell(page, "partitions", p, "log_end"), n(end))
        shows(cell(page, "partitions", p, "committed"), n(committed[p]))
        shows(cell(page, "partitions", p, "persisted_offset"), n(persisted[p]))
        shows(cell(page, "partitions", p, "lag"), "0")
    expect(page.locator("#db-status")).to_have_text("database up")
    expect(page.locator("#broker-status")).to_have_text("broker reachable")
    # The chart is a picture: uPlot drew its canvas with axes and a legend.
    expect(page.locator("#throughput-chart canvas")).to_have_count(1)
    expect(page.locator("#throughput-chart .u-legend")).to_contain_text("events persisted")


def check_analytics(page: Page, db: Db) -> None:
    totals = db.analytics_totals()
    for kind, count in totals.items():
        shows(cell(page, "type-totals", kind, "total"), n(count))
    shows(cell(page, "type-totals", "all types", "total"), n(sum(totals.values())))
    expect(page.locator("#minutes-chart canvas")).to_have_count(1)
    expect(page.locator("#minutes-chart .u-legend")).to_contain_text("idle_5")


def check_billing(page: Page, db: Db, truth: dict) -> None:
    entries, debits, credits = db.all(
        "SELECT count(*), coalesce(sum(amount) FILTER (WHERE amount < 0), 0), "
        "coalesce(sum(amount) FILTER (WHERE amount > 0), 0) FROM billing.ledger"
    )[0]
    shows(page.locator("#ledger-entries"), n(entries))
    shows(page.locator("#ledger-debits"), money(debits))
    shows(page.locator("#ledger-credits"), money(credits))
    shows(page.locator("#ledger-net"), money(debits + credits))
    shows(page.locator("#ledger-users"), n(len(truth)))
    top = sorted(truth.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    for user, balance in top:
        shows(cell(page, "balances", user, "balance"), money(balance))


def check_audit(page: Page, db: Db, topic: str, event_id: str) -> None:
    partition, offset, kind = db.all(
        "SELECT partition, kafka_offset, event_type FROM audit.events WHERE event_id = %s", event_id
    )[0]
    page.fill("#audit-id", event_id)
    page.click("#audit-search button")
    shows(page.locator("#audit-event-id"), event_id)
    shows(page.locator("#audit-type"), kind)
    shows(page.locator("#audit-origin"), f"{topic} partition {partition} offset {offset}")
    shows(page.locator("#audit-deliveries"), "1")
    shows(page.locator("#redeliveries"), "0")
    page.fill("#audit-id", "00000000-0000-4000-8000-000000000000")
    page.click("#audit-search button")
    expect(page.locator("#audit-error")).to_contain_text("audit has no event", timeout=10_000)
    page.fill("#audit-id", event_id)  # leave the found event on screen for the screenshot
    page.click("#audit-search button")
    shows(page.locator("#audit-deliveries"), "1")


def test_service_dashboards_show_the_database_numbers_live(
    stack: Stack, clean_db: Db, browser: Browser, screenshots: Path
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = off_loop(new_topic, bootstrap, "dash", PARTITIONS)
    with running_services(stack, topic) as procs:
        for p in procs.values():
            p.wait_assigned(PARTITIONS)
        # The pages load while the first events are being published and consumed.
        flowing = in_background(publish_events, bootstrap, topic, FIRST, seed=31)
        errors: list[str] = []
        pages = {name: open_dashboard(browser, p, errors) for name, p in procs.items()}
        first = flowing.result()
        settle(stack, db, procs, topic, FIRST)
        for page in pages.values():
            shows(page.locator("#processed"), n(FIRST))

        # More events, no reload: the same pages move to the new totals.
        second = off_loop(publish_events, bootstrap, topic, SECOND, seed=32)
        settle(stack, db, procs, topic, FIRST + SECOND)
        for name, page in pages.items():
            check_common(page, db, name, procs[name].env["CONSUMER_GROUP"], bootstrap, topic)
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        shows(pages["analytics"].locator("#throughput-total"), n(FIRST + SECOND))
        check_analytics(pages["analytics"], db)
        check_billing(pages["billing"], db, balances(first + second))
        check_audit(pages["audit"], db, topic, str(second[-1].event_id))
        for name in SERVICES:
            pages[name].screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
            pages[name].context.close()
    assert not errors, f"JavaScript errors: {errors}"
