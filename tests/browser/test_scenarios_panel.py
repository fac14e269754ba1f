"""The overview's Scenarios panel, played by a person: Run crash-in-the-window, watch the
narration come line by line with billing outlined in the picture, see a second Run refused
with the reason, and read the verdict with the numbers the database holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from infra.local.stack import Stack
from infra.polling import wait_for
from infra.scenarios import catalog
from tests.browser.helpers import off_loop
from tests.support.db import Db
from tests.support.kafka import PARTITIONS, new_topic, published
from tests.support.processes import FAST
from tests.support.publishing import publish_events
from tests.support.reconcile import wait_reconciled
from tests.support.scenarios import supervised, window_events, window_ledger

pytestmark = pytest.mark.browser
PUBLISHED = 500 + 1  # the test's events plus the publisher process's single one
RUN_MS = 180_000  # a crash, a restart after the session timeout, the catch-up


def test_run_a_scenario_from_the_overview(
    stack: Stack, clean_db: Db, page: Page, screenshots: Path
) -> None:
    db, bootstrap = clean_db, stack.bootstrap
    topic = off_loop(new_topic, bootstrap, "scn-page", PARTITIONS)
    # The Run's child runs as the publisher's account (not root): its supervisor's status file
    # sits where that account can read it, as .state/up does under ./fanout up.
    state = stack.home / "scenario-panel" / topic
    group = f"billing-{topic.rsplit('-', 1)[-1]}"  # supervised() names groups so
    env = {
        **FAST,
        "CONSUMER_GROUPS": json.dumps({"billing": group}),
        "READER_DATABASE_URL": stack.reader_url,
        "PUBLISH_RATE": "0.001",  # one event now, the next in 1000 s
    }  # the Run's child finds this supervisor by FANOUT_SUPERVISOR_STATUS, like its parent
    with supervised(stack, topic, ("publisher", "billing"), state, **env) as sup:
        wait_for(lambda: off_loop(published, bootstrap, topic) == 1, timeout=60, what="1 event")
        off_loop(publish_events, bootstrap, topic, PUBLISHED - 1, seed=71)
        off_loop(wait_reconciled, db, bootstrap, topic, "billing", group, PUBLISHED)
        page.goto(f"http://127.0.0.1:{sup.running['publisher'].spec.web_port}/overview")

        # The panel lists the engine's whole catalog, the contrasts among them, and the topic
        # line says how the topic was made.
        listed = page.locator("#scenario-list li")
        expect(listed).to_have_count(len(catalog()))
        assert [li.get_attribute("data-name") for li in listed.all()] == list(catalog())
        expect(page.locator("#topic-setup")).to_contain_text(
            f"{topic}: created explicitly with {PARTITIONS} partitions and replication 1;"
            " auto.create.topics.enable=false: the platform creates its topics itself"
        )
        page.locator('#scenario-list li[data-name="crash-in-the-window"] button').click()
        narration = page.locator("#narration li")
        expect(narration.first).to_have_text(
            "hold billing in the supervisor: after the crash it stays down until measured"
        )
        page.locator('#scenario-list li[data-name="replay"] button').click()
        expect(page.locator("#scenario-refusal")).to_have_text(
            "Run refused: crash-in-the-window is running: one scenario at a time"
        )
        expect(page.locator("#diagram rect.touched")).to_have_count(1)
        verdict = page.locator("#verdict")
        expect(verdict).to_have_text(re.compile(r"^verdict: held — "), timeout=RUN_MS)
        lines = narration.all_inner_texts()
        window = db.progress_sums("billing")["duplicates"]  # none before: all the window's
        entries, total = window_ledger(db, window_events(lines))
        assert window > 0
        expect(verdict).to_have_text(
            f"verdict: held — duplicates absorbed after the restart: predicted {window}, "
            f"measured {window}; billing ledger entries of the window: predicted {entries}, "
            f"measured {entries}; billing ledger total of the window: predicted {total}, "
            f"measured {total}; gaps (reconcile): predicted 0, measured 0"
        )
        assert lines[-1] == "billing committed past the window"
        expect(page.locator("#diagram rect.touched")).to_have_count(0)
        page.screenshot(path=str(screenshots / "overview-scenario.png"), full_page=True)
