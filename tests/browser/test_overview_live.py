"""The overview on a live stream: while the publisher streams, no reading the page shows has
persisted > published, accounted > published, or a "gap" — in-flight events are lag
("catching up"), never loss. Each reading takes a row's cells in one evaluation, as a person
sees them at one moment."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import Page

from infra.local.stack import Stack
from infra.polling import wait_for
from tests.browser.helpers import off_loop
from tests.support.catalog import SERVICES
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic, published
from tests.support.processes import running_services

pytestmark = pytest.mark.browser
READINGS = 20
ROW_JS = """([table]) => Object.fromEntries([...document.querySelectorAll(`#${table} tbody tr`)]
  .map(tr => [tr.dataset.key, Object.fromEntries([...tr.querySelectorAll('td')]
  .map(td => [td.dataset.col, td.textContent])) ]))"""


def number(text: str) -> int:
    return int(text.replace(",", ""))


def _complete(row: dict[str, str]) -> bool:
    """Both sides loaded (the first paint shows placeholders)."""
    return all(row.get(c, "").replace(",", "").isdigit() for c in ("published", "persisted"))


def readings(page: Page, count: int) -> list[dict[str, dict[str, str]]]:
    """``count`` snapshots of the reconciliation table, each taken once the page changed."""
    out: list[dict[str, dict[str, str]]] = []
    deadline = time.monotonic() + 120
    while len(out) < count and time.monotonic() < deadline:
        rows = page.evaluate(ROW_JS, ["recon"])
        if (
            set(rows) == set(SERVICES)
            and all(_complete(r) for r in rows.values())
            and (not out or rows != out[-1])
        ):
            out.append(rows)
        page.wait_for_timeout(300)  # Playwright's own clock: lets the page poll meanwhile
    assert len(out) == count, f"the overview changed only {len(out)} times in 120 s"
    return out


def test_a_live_stream_never_shows_persisted_above_published(
    stack: Stack, clean_db: Db, page: Page
) -> None:
    bootstrap = stack.bootstrap
    topic = off_loop(new_topic, bootstrap, "overview-live", PARTITIONS)
    suffix = topic.rsplit("-", 1)[-1]
    groups = {s: f"{s}-{suffix}" for s in SERVICES}
    env = {
        "CONSUMER_GROUPS": json.dumps(groups),
        "READER_DATABASE_URL": stack.reader_url,
        "PUBLISH_RATE": "400",
    }
    with (
        running_services(stack, topic, ("publisher",), **env) as pub,
        running_services(stack, topic),
    ):
        wait_for(lambda: off_loop(published, bootstrap, topic) >= 400, timeout=60,
                 what="the stream to start")  # fmt: skip
        page.goto(f"http://127.0.0.1:{pub['publisher'].port}/overview")
        seen = readings(page, READINGS)
        still_flowing = off_loop(published, bootstrap, topic)
        wait_for(lambda: off_loop(published, bootstrap, topic) > still_flowing, timeout=30,
                 what="the stream to go on after the readings")  # fmt: skip
    for rows in seen:
        for name, row in rows.items():
            pub_n, persisted = number(row["published"]), number(row["persisted"])
            assert persisted <= pub_n and number(row["accounted"]) <= pub_n, (name, row)
            assert row["status"] in ("reconciled", "catching up"), (name, row)
