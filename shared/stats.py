"""Live counters of one service process: Prometheus metrics plus what the dashboard shows."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import ConsumerRebalanceListener, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.progress import Outcome


@dataclass
class ServiceStats:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    db_up: bool = True
    last_db_error: str | None = None
    committed: dict[int, int] = field(default_factory=dict)
    assigned: set[int] = field(default_factory=set)
    positioned: set[int] = field(default_factory=set)  # owned, with a known start offset
    positioned_tps: set[TopicPartition] = field(default_factory=set)  # all topics
    batches: int = 0
    transactions_attempted: int = 0  # a poison event splits a batch into more
    # (unix time, events persisted in that batch): the throughput chart's source.
    history: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=600))

    def __post_init__(self) -> None:
        r, labels = self.registry, ["service", "topic", "partition"]
        self.processed = Counter(
            "fanout_events_processed", "New events applied", labels, registry=r
        )
        self.duplicates = Counter(
            "fanout_duplicates_absorbed", "Redeliveries absorbed", labels, registry=r
        )
        self.invalid = Counter(
            "fanout_events_invalid", "Events rejected", ["service", "reason"], registry=r
        )
        self._transactions = Counter(
            "fanout_transactions", "Batch transactions attempted (poison splits a batch)",
            ["service"], registry=r,
        )  # fmt: skip
        self.db_errors = Counter(
            "fanout_db_errors", "Failed batch transactions", ["service"], registry=r
        )
        self.commit_failures = Counter(
            "fanout_commit_failures", "Offset commits refused (rebalance)", ["service"], registry=r
        )
        self.fenced = Counter(
            "fanout_fenced", "Batch transactions refused: another instance owns the partition",
            ["service"], registry=r,
        )  # fmt: skip
        self.batch_seconds = Histogram(
            "fanout_batch_seconds", "Batch persist time", ["service"], registry=r
        )
        self.committed_gauge = Gauge(
            "fanout_committed_offset", "Committed offset", ["service", "partition"], registry=r
        )
        self.dead_lettered = Counter(
            "fanout_dead_lettered", "Events sent to the dead-letter topic", ["service"], registry=r
        )
        self.db_up_gauge = Gauge(
            "fanout_db_up", "1 while the database accepts writes", ["service"], registry=r
        )
        self.db_up_gauge.labels(self.service).set(1)

    def record_batch(self, outcome: Outcome, seconds: float) -> None:
        s = self.service
        self.batches += 1
        self.batch_seconds.labels(s).observe(seconds)
        for (topic, p), t in outcome.partitions.items():
            if t.processed:
                self.processed.labels(s, topic, str(p)).inc(t.processed)
            if t.duplicates:
                self.duplicates.labels(s, topic, str(p)).inc(t.duplicates)
        for letter in outcome.letters:
            self.invalid.labels(s, letter.rejected.reason).inc()
        self.history.append((time.time(), len(outcome.new)))
        self.set_db(True)

    def attempt_transaction(self) -> None:
        self.transactions_attempted += 1
        self._transactions.labels(self.service).inc()

    def set_positioned(self, owned: set[TopicPartition], events_topic: str) -> None:
        self.positioned_tps = set(owned)
        self.positioned = {tp.partition for tp in owned if tp.topic == events_topic}

    def add_positioned(self, read: Iterable[TopicPartition], events_topic: str) -> None:
        """Partitions a fetch knew the position of, shown on /health ahead of the next
        ``set_positioned``: a batch may be held a long time, and health must not lag the
        partitions it writes. ``positioned_tps`` is left to ``set_positioned``: the loop
        settles a new partition's start there (a redrive from its beginning)."""
        self.positioned |= {tp.partition for tp in read if tp.topic == events_topic}

    def record_commit(self, offsets: dict[int, int]) -> None:
        """Committed offsets of the events topic, by partition."""
        self.committed.update(offsets)
        for p, off in offsets.items():
            self.committed_gauge.labels(self.service, str(p)).set(off)

    def set_db(self, up: bool, error: str | None = None) -> None:
        self.db_up = up
        self.last_db_error = error if not up else self.last_db_error
        self.db_up_gauge.labels(self.service).set(1 if up else 0)
        if not up:
            self.db_errors.labels(self.service).inc()


class AssignmentListener(ConsumerRebalanceListener):
    """Keeps the dashboard's view of which events-topic partitions this instance owns."""

    def __init__(self, stats: ServiceStats, topic: str) -> None:
        self.stats = stats
        self.topic = topic

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.stats.assigned -= {tp.partition for tp in revoked if tp.topic == self.topic}

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.stats.assigned |= {tp.partition for tp in assigned if tp.topic == self.topic}
