"""Wait for a condition with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(AssertionError):
    """Raised when a polled condition is still false at its deadline."""


class GiveUp(AssertionError):
    """Raised by a probe when waiting longer cannot help (the process died): fails at once."""


def wait_for(
    probe: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    detail: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy; return that value.

    Exceptions from the probe count as "not yet" (a server still starting refuses
    connections); the last one is reported if the deadline passes.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = exc
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail else ""
            raise DeadlineExceeded(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}{extra}"
            )
        time.sleep(interval)  # poll interval, bounded by the deadline above


async def async_wait_for(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
) -> T:
    """Async twin of :func:`wait_for`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = await probe()
            if value:
                return value
            last = value
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001
            last = exc
        if time.monotonic() >= deadline:
            raise DeadlineExceeded(
                f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}"
            )
        await asyncio.sleep(interval)  # poll interval, bounded by the deadline above
