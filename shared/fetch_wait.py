"""The broker's fetch wait, adapted to the rate the loop sees.

Quiet (a batch of one record or none), a fetch asks for 1 byte and waits up to 100 ms: the
broker answers as soon as an event arrives, and an idle consumer sends ten fetches a second.
Busy (a batch of ``BUSY_AT`` records or more), it asks for ``FETCH_MIN_BYTES`` within
``FETCH_MAX_WAIT_MS`` (16 KiB, 20 ms): fewer, fuller fetches. In between it keeps its mode, so
a steady rate does not flip it every batch. Measured (README, Throughput): a busy wait (10 ms)
alone cost 0.08 of a core more at the demo's 20/s than the quiet one, and saved 0.25 at 2,000/s.

aiokafka fixes both values when the consumer starts and reads them for every fetch request it
builds; they are set on its fetcher here (``tests/unit/test_fetch_wait.py`` fails if a new
aiokafka renames them; set under an old name they would do nothing, not harm). A value set
while a fetch is in flight applies from the next one.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

QUIET_MIN_BYTES = 1
QUIET_WAIT_MS = 100
BUSY_AT = 8  # records in a batch; at 200/s a batch holds 2-3, at 2,000/s 16-26


class FetchWait:
    """Which wait the consumer's fetches use; ``adapt`` after each fetch."""

    def __init__(self, busy_min_bytes: int, busy_wait_ms: int) -> None:
        self.busy_wait = (busy_min_bytes, busy_wait_ms)
        self.busy = True  # as the consumer was built: its settings

    def adapt(self, kafka: AIOKafkaConsumer, records: int) -> None:
        busy = records >= BUSY_AT if not self.busy else records > 1
        if busy == self.busy:
            return
        self.busy = busy
        fetcher = kafka._fetcher  # noqa: SLF001 — no public setter (module docstring)
        if fetcher is None:  # not started: it is built with the settings' values
            return
        min_bytes, wait_ms = self.busy_wait if busy else (QUIET_MIN_BYTES, QUIET_WAIT_MS)
        fetcher._fetch_min_bytes = min_bytes  # noqa: SLF001
        fetcher._fetch_max_wait_ms = wait_ms  # noqa: SLF001
