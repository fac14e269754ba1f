"""Browser fixtures: Debian's Chromium driven by Playwright (never `playwright install`:
the machines are offline; apt is the one source). A missing Chromium is installed once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from infra.local.stack import Stack
from infra.local.system import apt_install

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        apt_install("chromium")
    assert CHROMIUM.exists(), "apt-get install chromium left no /usr/bin/chromium"
    return CHROMIUM


@pytest.fixture(scope="package")  # its event loop must end with the browser tests
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab; any JavaScript exception on it fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def screenshots(stack: Stack) -> Path:
    """.state/test/screenshots (git-ignored), kept after the run for people to look at."""
    folder = stack.home / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
