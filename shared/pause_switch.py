"""The pause switch (the dashboard's ``/pause`` and ``/resume``, ``./fanout pause``): while it
is on, the loop fetches nothing — between batches, so the last one is committed — but keeps
polling: the process, its group membership and its dashboard stay."""

from __future__ import annotations

from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition


class PauseSwitch:
    def __init__(self) -> None:
        self.requested = False  # set by the dashboard
        self.applied = False  # whether the loop has applied it (shown on /health)
        self._paused: set[TopicPartition] = set()  # what this switch paused

    def apply(self, kafka: AIOKafkaConsumer, claimed: Collection[TopicPartition] | None) -> None:
        """Between two batches. It resumes only what it paused, and never a partition that is
        not ``claimed`` yet (database mode holds those paused itself; None: no such hold)."""
        if self.requested:
            mine = kafka.assignment() - kafka.paused()  # assigned meanwhile too
            kafka.pause(*mine)
            self._paused |= mine
        elif self._paused:
            kafka.resume(*(tp for tp in self._paused & kafka.assignment()
                           if claimed is None or tp in claimed))  # fmt: skip
            self._paused = set()
        self.applied = self.requested
