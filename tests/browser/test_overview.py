"""The publisher's overview: the fan-out picture and the reconciliation, first with a crash
window open (persisted in the database, not committed in Kafka), then closed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from infra.local.stack import Stack
from infra.polling import wait_for
from tests.browser.helpers import cell, n, off_loop, shows
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, committed, new_topic, published
from tests.support.processes import running_services
from tests.support.publishing import publish_events
from tests.support.reconcile import wait_reconciled

pytestmark = pytest.mark.browser
PUBLISHED = 3_000 + 1  # the test's events plus the publisher process's single one


@dataclass
class Overview:
    """The overview page, and the database and broker it must agree with."""

    page: Page
    db: Db
    bootstrap: str
    topic: str
    groups: dict[str, str]

    def check_row(self, name: str) -> dict[int, int]:
        """The row of ``name`` equals database and broker; returns its window per partition."""
        db, page = self.db, self.page
        done = off_loop(committed, self.bootstrap, self.groups[name], self.topic)
        persisted = db.persisted_offsets(name, self.topic)
        window = {
            p: max(persisted[p] + 1 - done.get(p, 0), 0) if p in persisted else 0
            for p in range(PARTITIONS)
        }
        sums = db.progress_sums(name)
        row = {
            "published": PUBLISHED,
            "persisted": db.inbox_count(name),
            "copies": 0,
            "invalid": 0,
            "accounted": sums["processed"] + sums["copies"] + sums["invalid"],
            "committed": sum(done.values()),
            "lag": PUBLISHED - sum(done.values()),
            "window": sum(window.values()),
            "duplicates": sums["duplicates"],
        }
        for col, value in row.items():
            shows(cell(page, "recon", name, col), n(value))
        for p, w in window.items():
            shows(cell(page, "windows", p, f"{name}.window"), n(w))
            shows(cell(page, "windows", p, f"{name}.committed"), n(done[p]) if p in done else "–")
        return window

    def shows_status(self, name: str, status: str) -> None:
        shows(cell(self.page, "recon", name, "status"), status)


def check_crash_windows(view: Overview, screenshots: Path) -> dict[str, int]:
    """analytics reconciled; billing and audit each with a window open. Returns their sizes."""
    view.check_row("analytics")
    view.shows_status("analytics", "reconciled")
    windows = {}
    for name in ("billing", "audit"):
        windows[name] = sum(view.check_row(name).values())
        assert windows[name] > 0, f"{name}'s crash left no window"
        view.shows_status(name, "catching up")
    expect(view.page.locator("#diagram text", has_text="catching up")).to_have_count(2)
    view.page.screenshot(path=str(screenshots / "overview-crash-window.png"), full_page=True)
    return windows


def check_reconciled(view: Overview, windows: dict[str, int], screenshots: Path) -> None:
    for name in SERVICES:
        assert sum(view.check_row(name).values()) == 0
        view.shows_status(name, "reconciled")
    for name in ("billing", "audit"):  # every event of the window came again, absorbed
        shows(cell(view.page, "recon", name, "duplicates"), n(windows[name]))
    expect(view.page.locator("#diagram text", has_text="reconciled")).to_have_count(3)
    expect(view.page.locator("#db-status")).to_have_text("database up")
    view.page.screenshot(path=str(screenshots / "overview.png"), full_page=True)


def check_publisher_page(page: Page, port: int, screenshots: Path) -> None:
    page.goto(f"http://127.0.0.1:{port}/")
    shows(page.locator("#sent"), "1")
    shows(page.locator("#published"), n(PUBLISHED))
    expect(page.locator("#rate-chart canvas")).to_have_count(1)
    page.screenshot(path=str(screenshots / "publisher.png"), full_page=True)


def test_overview_shows_the_crash_window_then_reconciles(
    stack: Stack, clean_db: Db, page: Page, screenshots: Path
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = off_loop(new_topic, bootstrap, "overview", PARTITIONS)
    suffix = topic.rsplit("-", 1)[-1]  # running_services names each group <service>-<suffix>
    groups = {s: f"{s}-{suffix}" for s in SERVICES}
    publisher_env = {"CONSUMER_GROUPS": json.dumps(groups)}
    publisher_env.update(
        READER_DATABASE_URL=stack.reader_url, PUBLISH_RATE="0.001"
    )  # one event now, the next in 1000 s
    view = Overview(page, db, bootstrap, topic, groups)

    with (
        running_services(stack, topic, ("publisher",), **publisher_env) as pub,
        running_services(stack, topic, ("analytics",)) as steady,
        running_services(
            stack, topic, ("billing", "audit"), CRASH_AFTER_BATCH="3", BATCH_MAX="250"
        ) as crashing,
    ):
        wait_for(
            lambda: off_loop(published, bootstrap, topic) == 1,
            timeout=60,
            what="the publisher process's one event",
        )
        off_loop(publish_events, bootstrap, topic, PUBLISHED - 1, seed=41)
        for p in crashing.values():
            p.wait_crashed()
        for name, p in steady.items():
            off_loop(wait_reconciled, db, bootstrap, topic, name, p.group, PUBLISHED, proc=p)
        page.goto(f"http://127.0.0.1:{pub['publisher'].port}/overview")
        windows = check_crash_windows(view, screenshots)

        for p in crashing.values():
            p.start(CRASH_AFTER_BATCH=None)
        for name, p in crashing.items():
            off_loop(wait_reconciled, db, bootstrap, topic, name, p.group, PUBLISHED, proc=p)
        check_reconciled(view, windows, screenshots)

        check_publisher_page(page, pub["publisher"].port, screenshots)
