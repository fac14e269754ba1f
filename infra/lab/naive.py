"""THE COUNTER-EXAMPLE — never a way to build a consumer. The seed's own style of consumer:
its own group, each event written to a table of its own after it is read, a running total
beside it, and none of the platform's guards (no inbox, no key on event_id, no commit after
the transaction when NAIVE_COMMIT=auto).

Only the contrast scenarios start it (``python -m infra.lab.naive``), each in a group of the
run's own, and stop it when done. Its crash switch (NAIVE_CRASH) kills it at the exact point a
contrast needs:

- ``after-autocommit`` (with NAIVE_COMMIT=auto): a batch is read, the background auto-commit
  commits past it, and the process dies before its database write: those events are lost.
- ``in-window`` (with NAIVE_COMMIT=manual): the batch is written and the transaction
  committed, and the process dies before its offset commit: they are delivered again.

It reports to NAIVE_REPORT (JSON lines): ``ready`` with where it starts, and the crash with
the batch's (partition, offset, amount) records, so a scenario predicts from what it did.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from aiokafka import ConsumerRecord, TopicPartition
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.polling import async_wait_for
from shared.broker import consumer, partitions_of
from shared.db import async_engine
from shared.events import Delivery, classify

CRASH_EXIT_CODE = 86  # as the services' crash switch
AUTO_COMMIT_MS = 200
WAIT_S = 0.05

INSERT = sa.text(
    "INSERT INTO naive.writes (consumer_group, event_id, partition, kafka_offset, amount)"
    " VALUES (:g, :event_id, :partition, :kafka_offset, :amount)"
)
TOTAL = sa.text(
    "INSERT INTO naive.totals AS t (consumer_group, events, amount) VALUES (:g, :n, :amount)"
    " ON CONFLICT (consumer_group) DO UPDATE"
    " SET events = t.events + excluded.events, amount = t.amount + excluded.amount"
)


class NaiveSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    kafka_bootstrap_servers: str
    events_topic: str
    consumer_group: str
    database_url: str  # the naive role, with the password the scenario gave it
    naive_commit: Literal["auto", "manual"]
    naive_crash: Literal["none", "after-autocommit", "in-window"] = "none"
    # The switch waits for a batch this big: on a live platform the publisher's trickle
    # comes first, a few events a batch; the scenario's burst is the batch to crash on.
    naive_crash_min_batch: int = 1
    naive_report: Path


class Naive:
    def __init__(self, s: NaiveSettings) -> None:
        self.s = s
        self.stopping = False
        self.client = consumer(
            s.kafka_bootstrap_servers,
            s.consumer_group,
            auto_offset_reset="latest",  # a new group: from the log end, like the seed's
            enable_auto_commit=s.naive_commit == "auto",
            auto_commit_interval_ms=AUTO_COMMIT_MS,
            max_poll_records=64,  # a batch of a few dozen: one batch is in the window
        )

    def report(self, **line: Any) -> None:
        with self.s.naive_report.open("a") as out:
            out.write(json.dumps(line) + "\n")

    async def run(self, engine: AsyncEngine) -> None:
        self.client.subscribe([self.s.events_topic])
        await self.client.start()
        try:
            await self.ready()
            while not self.stopping:
                batch = await self.client.getmany(timeout_ms=200)
                records = [r for recs in batch.values() for r in recs]
                if records:
                    await self.handle(engine, records)
        finally:
            await self.client.stop()  # auto mode: one last auto-commit of what was read

    async def ready(self) -> None:
        tps = set(await partitions_of(self.s.kafka_bootstrap_servers, self.s.events_topic))

        async def joined() -> bool:  # the group's join runs in aiokafka's background task
            return self.client.assignment() == tps

        await async_wait_for(joined, timeout=60, what="its partitions", interval=WAIT_S)
        at = {tp: await self.client.position(tp) for tp in sorted(tps)}
        # Where it starts is committed at once, as a consumer that has run a while would have
        # it: a restart resumes here rather than at a new log end.
        await self.client.commit(at)
        start = {tp.partition: off for tp, off in at.items()}
        self.report(event="ready", pid=os.getpid(), start=start)

    async def handle(self, engine: AsyncEngine, records: list[ConsumerRecord[Any, Any]]) -> None:
        rows = [row_of(self.s.events_topic, r) for r in records]
        armed = len(records) >= self.s.naive_crash_min_batch
        if armed and self.s.naive_crash == "after-autocommit":
            await self.until_auto_committed(records)
            self.crash("after-autocommit", rows)
        events = [e for e in rows if e is not None]
        async with engine.begin() as conn:
            if events:
                await conn.execute(INSERT, [dict(e, g=self.s.consumer_group) for e in events])
            amount = sum((Decimal(e["amount"] or 0) for e in events), Decimal(0))
            await conn.execute(
                TOTAL, {"g": self.s.consumer_group, "n": len(events), "amount": amount}
            )
        if armed and self.s.naive_crash == "in-window":
            self.crash("in-window", rows)
        if self.s.naive_commit == "manual":
            await self.client.commit()

    async def until_auto_committed(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        """The bad luck the crash switch waits for: the background auto-commit has committed
        past every record read, before any was written."""
        ends: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            ends[tp] = max(ends.get(tp, 0), r.offset + 1)

        async def covered() -> bool:
            return all([(await self.client.committed(tp) or 0) >= e for tp, e in ends.items()])

        await async_wait_for(covered, timeout=60, what="the auto-commit", interval=WAIT_S)

    def crash(self, point: str, rows: list[dict[str, Any] | None]) -> None:
        batch = [[e["partition"], e["kafka_offset"], e["amount"]] for e in rows if e is not None]
        self.report(event="crash", point=point, batch=batch)
        os._exit(CRASH_EXIT_CODE)


def row_of(topic: str, r: ConsumerRecord[Any, Any]) -> dict[str, Any] | None:
    """The event's row; None for a record that is no event (the naive consumer skips it)."""
    decoded = classify(topic, r.partition, r.offset, r.value, r.timestamp)
    if not isinstance(decoded, Delivery):
        return None
    e = decoded.event
    return {
        "event_id": e.event_id,
        "partition": r.partition,
        "kafka_offset": r.offset,
        "amount": None if e.amount is None else str(e.amount),
    }


async def main() -> None:
    naive = Naive(NaiveSettings())  # type: ignore[call-arg]
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(naive, "stopping", True))
    engine = async_engine(naive.s.database_url, pool_size=1)
    try:
        await naive.run(engine)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
