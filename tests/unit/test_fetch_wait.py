"""The fetch wait follows the batch size, with hysteresis, on the fetcher aiokafka reads."""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any, cast

from aiokafka import AIOKafkaConsumer
from aiokafka.consumer.fetcher import Fetcher

from shared.fetch_wait import BUSY_AT, QUIET_MIN_BYTES, QUIET_WAIT_MS, FetchWait


def _consumer() -> tuple[AIOKafkaConsumer, Any]:
    fetcher = SimpleNamespace(_fetch_min_bytes=16_384, _fetch_max_wait_ms=10)
    return cast(AIOKafkaConsumer, SimpleNamespace(_fetcher=fetcher)), fetcher


def _waits(fetcher: Any) -> tuple[int, int]:
    return fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms


def test_quiet_after_a_batch_of_one_busy_from_busy_at_and_steady_between() -> None:
    kafka, fetcher = _consumer()
    wait = FetchWait(16_384, 10)
    wait.adapt(kafka, 2)  # busy keeps busy down to 2 records
    assert _waits(fetcher) == (16_384, 10)
    wait.adapt(kafka, 1)
    assert _waits(fetcher) == (QUIET_MIN_BYTES, QUIET_WAIT_MS)
    wait.adapt(kafka, BUSY_AT - 1)  # quiet keeps quiet below BUSY_AT
    assert _waits(fetcher) == (QUIET_MIN_BYTES, QUIET_WAIT_MS)
    wait.adapt(kafka, BUSY_AT)
    assert _waits(fetcher) == (16_384, 10)
    wait.adapt(kafka, 0)
    assert _waits(fetcher) == (QUIET_MIN_BYTES, QUIET_WAIT_MS)


def test_a_consumer_not_started_keeps_its_settings() -> None:
    kafka = cast(AIOKafkaConsumer, SimpleNamespace(_fetcher=None))
    wait = FetchWait(16_384, 10)
    wait.adapt(kafka, 0)
    assert wait.busy is False


def test_this_aiokafka_builds_its_fetch_requests_from_the_attributes_set() -> None:
    """Fails when a new aiokafka renames them: adapt would then change nothing."""
    init = inspect.getsource(Fetcher.__init__)
    build = inspect.getsource(Fetcher._get_actions_per_node)
    for name in ("_fetch_min_bytes", "_fetch_max_wait_ms"):
        assert f"self.{name} = " in init
        assert f"self.{name}," in build
