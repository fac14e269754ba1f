from __future__ import annotations

import itertools

import pytest

from infra.polling import DeadlineExceeded, wait_for


def test_wait_for_returns_first_truthy_value() -> None:
    counter = itertools.count()
    assert (
        wait_for(lambda: next(counter) >= 3 and "ready", timeout=5, what="x", interval=0) == "ready"
    )


def test_wait_for_fails_with_what_and_last_value() -> None:
    with pytest.raises(DeadlineExceeded, match="waiting for the moon; last: 0"):
        wait_for(lambda: 0, timeout=0.2, what="the moon", interval=0.05)
