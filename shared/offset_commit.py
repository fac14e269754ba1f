"""Step 7 of the consume loop in ``OFFSET_STORE=kafka``: commit a batch's offsets to Kafka.

The batch is in the database already, so a commit the broker cannot take now (it restarts,
its coordinator moves) is tried again, not the batch — re-reading it would absorb it once more
per attempt. A commit refused after a rebalance is harmless: the partitions' new owner
redelivers from the last committed offset and the inbox absorbs what this batch applied."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shared.stats import ServiceStats

log = logging.getLogger(__name__)
RETRY_S, RETRY_MAX_S = 0.2, 5.0


class OffsetCommit:
    def __init__(
        self, service: str, events_topic: str, stats: ServiceStats, stopping: Callable[[], bool]
    ) -> None:
        self.service, self.events_topic, self.stats = service, events_topic, stats
        self.stopping = stopping  # a stopping consumer gives up: its batch is read again

    async def __call__(self, kafka: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        delay = RETRY_S
        while True:
            try:
                return await self._commit(kafka, offsets)
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or self.stopping():
                    raise
                log.warning("offset commit not taken (%r); trying again in %.1f s", exc, delay)
                await asyncio.sleep(delay)  # backoff while the broker comes back
                delay = min(delay * 2, RETRY_MAX_S)

    async def _commit(self, kafka: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        owned = kafka.assignment()
        mine = {tp: off for tp, off in offsets.items() if tp in owned}
        if not mine:
            return
        try:
            await kafka.commit(mine)
        except (CommitFailedError, IllegalStateError) as exc:
            self.stats.commit_failures.labels(self.service).inc()
            log.warning("offset commit refused after rebalance (harmless): %r", exc)
            return
        events = {tp.partition: off for tp, off in mine.items() if tp.topic == self.events_topic}
        self.stats.record_commit(events)
