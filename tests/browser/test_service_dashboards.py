"""Each service's dashboard, loaded while events flow, shows exactly the database's numbers
and keeps updating without a reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from infra.local.stack import Stack
from tests.browser.helpers import cell, in_background, money, n, off_loop, shows
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, ends, new_topic
from tests.support.processes import ServiceProcess, running_services
from tests.support.publishing import balances, publish_events
from tests.support.reconcile import wait_caught_up

pytestmark = pytest.mark.browser
FIRST, SECOND = 3_000, 1_000


def open_dashboard(browser: Browser, proc: ServiceProcess, errors: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(f"{proc.name}: {exc}"))
    page.goto(f"http://127.0.0.1:{proc.port}/")
    expect(page.locator("#updated")).to_contain_text("updated", timeout=30_000)
    return page


def check_common(page: Page, db: Db, name: str, group: str, bootstrap: str, topic: str) -> None:
    sums = db.progress_sums(name)
    shows(page.locator("#processed"), n(sums["processed"]))
    shows(page.locator("#duplicates"), n(sums["duplicates"]))
    shows(page.locator("#invalid"), n(sums["invalid"]))
    shows(page.locator("#lag"), "0")
    shows(page.locator("#window"), "0")
    log_end = off_loop(ends, bootstrap, topic)
    done = off_loop(committed, bootstrap, group, topic)
    persisted = db.persisted_offsets(name, topic)
    for p, end in log_end.items():
        shows(cell(page, "partitions", p, "log_end"), n(end))
        shows(cell(page, "partitions", p, "committed"), n(done[p]))
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
        off_loop(wait_caught_up, db, bootstrap, topic, procs, FIRST)
        for page in pages.values():
            shows(page.locator("#processed"), n(FIRST))

        # More events, no reload: the same pages move to the new totals.
        second = off_loop(publish_events, bootstrap, topic, SECOND, seed=32)
        off_loop(wait_caught_up, db, bootstrap, topic, procs, FIRST + SECOND)
        for name, page in pages.items():
            check_common(page, db, name, procs[name].group, bootstrap, topic)
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
        shows(pages["analytics"].locator("#throughput-total"), n(FIRST + SECOND))
        check_analytics(pages["analytics"], db)
        check_billing(pages["billing"], db, balances(first + second))
        check_audit(pages["audit"], db, topic, str(second[-1].event_id))
        for name in SERVICES:
            pages[name].screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
            pages[name].context.close()
    assert not errors, f"JavaScript errors: {errors}"
