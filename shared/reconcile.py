"""Reconciliation: what the broker says (log-end and committed offsets, read back) against
what a service's schema says (progress, inbox), per partition and in total — the numbers of
``./fanout reconcile``, the overview and every service page. Broker trouble is returned as
data, never raised: a dashboard must keep showing the database.

The rule, one for every reader: below a group's committed offset every offset is accounted
for exactly once in the database (else a gap: lost or doubled); above it, events are in flight
(lag), which is no fault. The committed offset is Kafka's, or the group's offsets row where
that is ahead (``OFFSET_STORE=database``: the row is the truth, Kafka's a best-effort mirror).
Committed offsets are read before the database and log ends after it (``read_around``), so a
live stream can never make one reading contradict itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from shared.broker import BrokerError, admin_client, group_offsets, offsets_client, topic_metadata
from shared.readside import ServiceState

BROKER_TIMEOUT_S = 5.0
T = TypeVar("T")
RETRY_S = 0.2


@dataclass(frozen=True)
class BrokerFacts:
    """The topic's log-end offsets and each group's committed offsets, or why they are missing."""

    topic: str
    log_end: dict[int, int] = field(default_factory=dict)
    committed: dict[str, dict[int, int]] = field(default_factory=dict)  # group → partition
    error: str | None = None

    @property
    def reachable(self) -> bool:
        return self.error is None


async def broker_facts(
    bootstrap: str, topic: str, groups: Iterable[str], within: float = BROKER_TIMEOUT_S
) -> BrokerFacts:
    """Never raises for broker trouble: a dashboard must keep showing the database."""
    facts, _ = await read_around(bootstrap, topic, groups, _nothing, within)
    return facts


async def _nothing() -> None:
    return None


async def read_around(
    bootstrap: str,
    topic: str,
    groups: Iterable[str],
    read_db: Callable[[], Awaitable[T]],
    within: float = BROKER_TIMEOUT_S,
) -> tuple[BrokerFacts, T]:
    """The groups' committed offsets, then ``read_db()``, then the log ends — in that order, so
    that one reading never shows committed past persisted (a batch commits to the database
    before Kafka) nor persisted past published. Broker trouble is returned as data."""
    names = list(groups)
    committed: dict[str, dict[int, int]] = {}
    error = None
    try:
        committed = await _retrying(lambda: _committed(bootstrap, topic, names), within)
    except (KafkaError, BrokerError, OSError, TimeoutError) as exc:
        error = _why(exc)
    db = await read_db()
    log_end: dict[int, int] = {}
    if error is None:
        try:
            log_end = await _retrying(lambda: _log_ends(bootstrap, topic), within)
        except (KafkaError, BrokerError, OSError, TimeoutError) as exc:
            error = _why(exc)
    return BrokerFacts(topic, log_end, committed, error), db


async def _retrying(read: Callable[[], Awaitable[T]], within: float) -> T:
    """``read()``, again while the broker answers with a retriable error (a group coordinator
    still loading on a fresh broker), until ``within`` seconds have passed."""
    async with asyncio.timeout(within):
        while True:
            try:
                return await read()
            except KafkaError as exc:
                if not getattr(exc, "retriable", False):
                    raise
                await asyncio.sleep(RETRY_S)  # the coordinator is being elected or loaded


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


async def _committed(bootstrap: str, topic: str, groups: list[str]) -> dict[str, dict[int, int]]:
    async with admin_client(bootstrap) as admin:
        return {
            group: {tp.partition: off for tp, off in (await group_offsets(admin, group)).items()
                    if tp.topic == topic}
            for group in groups
        }  # fmt: skip


async def _log_ends(bootstrap: str, topic: str) -> dict[int, int]:
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
    tps = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
    async with offsets_client(bootstrap) as consumer:
        ends = await consumer.end_offsets(tps)
    return {tp.partition: off for tp, off in sorted(ends.items())}


@dataclass(frozen=True)
class PartitionRecon:
    partition: int
    log_end: int
    committed: int | None  # None: the group never committed this partition
    persisted_offset: int | None  # highest offset the service decided; None: none yet
    last_event_time: datetime | None
    accounted: int = 0  # offsets decided, each once: applied, copy, invalid or skipped

    @property
    def decided(self) -> int:
        """Offsets ``[0, decided)`` are in the database: one past the highest persisted."""
        return 0 if self.persisted_offset is None else self.persisted_offset + 1

    @property
    def lag(self) -> int:
        """In flight: published, not yet committed by the group."""
        return max(self.log_end - (self.committed or 0), 0)

    @property
    def window(self) -> int:
        """Events in the database above the committed offset: what a restart redelivers."""
        return max(self.decided - (self.committed or 0), 0)

    @property
    def lost(self) -> int:
        """Offsets committed past what the database holds: skipped, never applied."""
        return max((self.committed or 0) - self.decided, 0)

    @property
    def gaps(self) -> list[str]:
        out = []
        if self.lost:
            out.append(
                f"partition {self.partition}: committed {self.committed} but the database "
                f"decided only offsets below {self.decided}: {self.lost} lost"
            )
        if self.accounted != self.decided:
            out.append(
                f"partition {self.partition}: {self.accounted} offsets accounted below "
                f"{self.decided} ({'missing' if self.accounted < self.decided else 'doubled'} "
                f"{abs(self.decided - self.accounted)})"
            )
        return out

    def time_lag(self, now: datetime) -> float | None:
        """Seconds between now and the newest persisted event; 0 when nothing is left to read
        (a caught-up group is not late, however old its last event is)."""
        if self.lag <= 0:
            return 0.0
        if self.last_event_time is None:
            return None
        return max((now - self.last_event_time).total_seconds(), 0.0)


@dataclass(frozen=True)
class ServiceRecon:
    """Every offset below the group's committed one is accounted for once: applied
    (processed), absorbed as a copy of an event published before, dead-lettered (invalid), or
    skipped (a transaction marker, an aborted record); what lies above it is in flight (lag),
    not lost. And every inbox row was applied from the events topic or from a redrive."""

    service: str
    group: str
    persisted: int  # inbox rows: events applied exactly once, redriven ones included
    processed: int  # applied from the events topic
    copies: int
    invalid: int
    duplicates: int  # every delivery absorbed, redeliveries included
    redriven: int  # applied from the redrive topic
    partitions: list[PartitionRecon]
    skipped: int = 0

    @property
    def accounted(self) -> int:
        return self.processed + self.copies + self.invalid + self.skipped

    @property
    def published(self) -> int:
        return sum(p.log_end for p in self.partitions)

    @property
    def committed(self) -> int:
        return sum(p.committed or 0 for p in self.partitions)

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def window(self) -> int:
        return sum(p.window for p in self.partitions)

    @property
    def gaps(self) -> list[str]:
        out = [gap for p in self.partitions for gap in p.gaps]
        if self.persisted != self.processed + self.redriven:
            out.append(
                f"inbox rows {self.persisted} != processed {self.processed} + redriven "
                f"{self.redriven}"
            )
        return out

    @property
    def reconciled(self) -> bool:
        return not self.gaps


def committed_offset(kafka: int | None, stored: int | None) -> int | None:
    """The authoritative committed offset: the greater of Kafka's and the database row's (in
    database mode the row is never behind Kafka; in kafka mode a row left from a database
    period is never ahead — ``reset-offsets`` moves both)."""
    return kafka if stored is None else max(stored, kafka if kafka is not None else -1)


def reconcile(service: str, group: str, facts: BrokerFacts, state: ServiceState) -> ServiceRecon:
    progress = state.progress
    parts = [
        PartitionRecon(
            p,
            end,
            committed_offset(facts.committed.get(group, {}).get(p), state.stored.get(p)),
            progress[p].persisted_offset if p in progress else None,
            progress[p].last_event_time if p in progress else None,
            progress[p].accounted if p in progress else 0,
        )
        for p, end in sorted(facts.log_end.items())
    ]
    rows = progress.values()
    return ServiceRecon(
        service,
        group,
        persisted=state.persisted,
        processed=sum(r.processed for r in rows),
        copies=sum(r.copies for r in rows),
        invalid=sum(r.invalid for r in rows),
        duplicates=sum(r.duplicates for r in rows),
        redriven=state.redriven,
        partitions=parts,
        skipped=sum(r.skipped for r in rows),
    )
