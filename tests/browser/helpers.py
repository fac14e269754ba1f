"""Helpers of the browser tests: blocking calls off Playwright's thread, page numbers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

from playwright.sync_api import Locator, Page, expect

T = TypeVar("T")
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="off-playwright")
SHOWN_WITHIN_MS = 30_000  # a dashboard polls every 1.5–2 s; a slow CI machine gets slack


def off_loop(fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run ``fn`` in another thread and wait: Playwright's sync API keeps an event loop
    running in this one, so helpers that call asyncio.run must run elsewhere."""
    return _pool.submit(fn, *args, **kwargs).result()


def in_background(fn: Callable[..., T], *args: object, **kwargs: object) -> Future[T]:
    return _pool.submit(fn, *args, **kwargs)


def n(value: int) -> str:
    """An integer as the pages show it (en-US grouping)."""
    return f"{value:,}"


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def cell(page: Page, table: str, key: object, col: str) -> Locator:
    return page.locator(f'#{table} tbody tr[data-key="{key}"] td[data-col="{col}"]')


def shows(locator: Locator, text: str) -> None:
    """Wait (bounded) until the live page shows ``text`` exactly."""
    expect(locator).to_have_text(text, timeout=SHOWN_WITHIN_MS)
