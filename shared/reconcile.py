"""Reconciliation: what the broker says (log-end and committed offsets, read back) against
what a service's schema says (progress, inbox), per partition and in total — the numbers of
``./fanout reconcile``, the overview and every service page. Broker trouble is returned as
data, never raised: a dashboard must keep showing the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from shared.broker import BrokerError, admin_client, group_offsets, offsets_client, topic_metadata
from shared.readside import PartitionProgress, ServiceState

BROKER_TIMEOUT_S = 5.0


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
    try:
        async with asyncio.timeout(within):
            return await _read_broker(bootstrap, topic, list(groups))
    except (KafkaError, BrokerError, OSError, TimeoutError) as exc:
        return BrokerFacts(topic, error=f"{type(exc).__name__}: {exc}".rstrip(": "))


async def _read_broker(bootstrap: str, topic: str, groups: list[str]) -> BrokerFacts:
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
        tps = [TopicPartition(topic, p["partition"]) for p in meta["partitions"]]
        committed = {
            group: {tp.partition: off for tp, off in (await group_offsets(admin, group)).items()
                    if tp.topic == topic}
            for group in groups
        }  # fmt: skip
    async with offsets_client(bootstrap) as consumer:
        ends = await consumer.end_offsets(tps)
    return BrokerFacts(topic, {tp.partition: off for tp, off in sorted(ends.items())}, committed)


@dataclass(frozen=True)
class PartitionRecon:
    partition: int
    log_end: int
    committed: int | None  # None: the group never committed this partition
    persisted_offset: int | None  # highest offset the service persisted; None: none yet
    last_event_time: datetime | None

    @property
    def lag(self) -> int:
        return self.log_end - (self.committed or 0)

    @property
    def window(self) -> int:
        """Events in the database above the committed offset: what a restart redelivers."""
        if self.persisted_offset is None:
            return 0
        return max(self.persisted_offset + 1 - (self.committed or 0), 0)

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
    """Every offset of the events topic is accounted for once: applied (processed), absorbed
    as a copy of an event published before, or dead-lettered (invalid). And every inbox row
    was applied from the events topic or from a redrive."""

    service: str
    group: str
    persisted: int  # inbox rows: events applied exactly once, redriven ones included
    processed: int  # applied from the events topic
    copies: int
    invalid: int
    duplicates: int  # every delivery absorbed, redeliveries included
    redriven: int  # applied from the redrive topic
    partitions: list[PartitionRecon]

    @property
    def accounted(self) -> int:
        return self.processed + self.copies + self.invalid

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
        out = []
        if self.published != self.accounted:
            out.append(
                f"published {self.published} != processed {self.processed} + copies "
                f"{self.copies} + invalid {self.invalid}"
            )
        if self.persisted != self.processed + self.redriven:
            out.append(
                f"inbox rows {self.persisted} != processed {self.processed} + redriven "
                f"{self.redriven}"
            )
        behind = [
            p.partition
            for p in self.partitions
            if p.committed != p.log_end and not (p.committed is None and p.log_end == 0)
        ]
        if behind:
            out.append(f"committed != log end on partitions {behind}")
        return out

    @property
    def reconciled(self) -> bool:
        return not self.gaps


def reconcile(service: str, group: str, facts: BrokerFacts, state: ServiceState) -> ServiceRecon:
    progress = state.progress
    parts = [
        PartitionRecon(
            p,
            end,
            facts.committed.get(group, {}).get(p),
            progress[p].persisted_offset if p in progress else None,
            progress[p].last_event_time if p in progress else None,
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
    )


def partition_rows(
    facts: BrokerFacts,
    group: str,
    progress: dict[int, PartitionProgress] | None,
    owned: set[int],
) -> list[dict[str, Any]]:
    """Per partition, what the broker and the database each know (a service page's table);
    None where one side is down."""
    now = datetime.now(UTC)
    rows = []
    for p in sorted(set(facts.log_end) | set(progress or {})):
        prog = (progress or {}).get(p)
        row: dict[str, Any] = {"partition": p, "owned": p in owned, **_database_side(prog)}
        row.update(dict.fromkeys(("log_end", "committed", "lag", "window", "time_lag_s")))
        if p in facts.log_end:
            rec = PartitionRecon(
                p,
                facts.log_end[p],
                facts.committed.get(group, {}).get(p),
                row["persisted_offset"],
                row["last_event_time"],
            )
            row.update(
                log_end=rec.log_end,
                committed=rec.committed,
                lag=rec.lag,
                time_lag_s=rec.time_lag(now),
            )
            if progress is not None:  # without the database the window is unknown, not 0
                row["window"] = rec.window
        rows.append(row)
    return rows


def _database_side(prog: PartitionProgress | None) -> dict[str, Any]:
    names = ("persisted_offset", "processed", "duplicates", "invalid", "last_event_time")
    return {n: getattr(prog, n) if prog else None for n in names}
