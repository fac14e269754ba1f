"""The one consume loop: the idempotent batch consumer every service runs.

Per batch, in this order and nowhere else (``step``, then ``process``):
  0. fetch (``shared.fetch``): records, and every partition's position before and after —
     a failed fetch rewinds them all, a batch the client cannot decode is isolated; the
     next fetch's wait follows the batch's size (``shared.fetch_wait``);
  1. claim the batch's event ids in the inbox: new, absorbed (seen before) or conflicting;
  2. apply the service's handler to the new events;
  3. record the dead letters (invalid, conflicting and poison events) in the service's table;
  4. add the batch to the per-partition progress — steps 1-4 are one database transaction —
  5. commit that transaction;
  6. send the dead letters to the dead-letter topic and wait for the broker;
  7. commit the batch's offsets to Kafka.
That is ``OFFSET_STORE=kafka``, at-least-once. With ``OFFSET_STORE=database`` (``shared.offsets``)
the offsets are committed in step 4 instead, in the same transaction, fenced by the owner's
epoch; the fetch is trimmed to what the database does not hold yet, step 6 comes before step 5
(a batch never read again could not send its dead letters again: sent, then committed, they
reach the topic at least once, as in kafka mode), and step 7 only mirrors the offsets to Kafka
(best effort, for lag tooling). A fenced transaction rolls back, like any other.
An exception before step 7 never advances offsets: the batch is retried (database errors,
with backoff) or read again, and the inbox absorbs what was already applied. A poison event
(its data breaks a write or the handler) fails its transaction: the batch is split in halves
until it stands alone, so only it is dead-lettered, in O(log n) transactions, partition order
kept. What the dead-letter path stores or sends is made to fit (``shared.dead_letters``): no
input can stall a partition — neither one the client decodes nor one it cannot.

One file on purpose: the steps, what an exception does to them, and the consumer's lifecycle
are read together; step 7's retries (``shared.offset_commit``) and the pause switch
(``shared.pause_switch``) are their own modules.

Records come from aiokafka's ``getmany`` — the client faust itself wraps — because faust's
per-event stream path (~80 µs per event) would cap a process near 12k events/s; here a batch
costs one decode per event and a handful of SQL statements.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from mode import Service
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import broker, dead_letters, inbox, progress
from shared.db import while_db_unavailable
from shared.dead_letter_topic import DeadLetterSender
from shared.events import Delivery, Rejected
from shared.fetch import Fetched, fetch
from shared.fetch_wait import FetchWait
from shared.items import Item, by_kind, decode
from shared.offset_commit import OffsetCommit
from shared.offsets import DatabaseAssignment, DatabaseOffsets, Fenced
from shared.pause_switch import PauseSwitch
from shared.progress import Outcome
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings
from shared.stats import AssignmentListener, ServiceStats
from shared.stepwatch import StepWatch

log = logging.getLogger(__name__)
CRASH_EXIT_CODE = 86
# Something in one event's data breaks a write or the handler: that event is poison.
POISON_ERRORS = (DataError, IntegrityError, ValueError, TypeError, KeyError, ArithmeticError)


class BatchConsumer(Service):
    def __init__(
        self,
        settings: ServiceSettings,
        service: ServiceDefinition,
        engine: AsyncEngine,
        stats: ServiceStats,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.service = service
        self.engine = engine
        self.stats = stats
        self.crash_requested = False  # set by the dashboard's /crash (./fanout crash SERVICE)
        self.pause = PauseSwitch()  # set by the dashboard's /pause and /resume
        self.dlq = DeadLetterSender(settings)  # the dead-letter topic (step 6)
        self.fetch_wait = FetchWait(settings.fetch_min_bytes, settings.fetch_max_wait_ms)
        self._stopping = False
        self.commit_offsets = OffsetCommit(  # step 7
            settings.service_name, settings.events_topic, stats, lambda: self._stopping
        )
        self._kafka: AIOKafkaConsumer | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._watch = StepWatch(f"{settings.service_name} consume loop")
        self._watch_task: asyncio.Task[None] | None = None
        self.offsets = (  # None: OFFSET_STORE=kafka, today's loop exactly
            DatabaseOffsets(settings, engine, service.tables.offsets, stats)
            if settings.offset_store == "database"
            else None
        )

    async def on_start(self) -> None:
        s = self.settings
        # Its dead-letter and redrive topics are the operator's to create (infra/kafka/
        # access.py): a service has no Create right on the broker.
        await self.dlq.start()
        self._kafka = broker.consumer(  # offsets move only in step 7 below
            s.bootstrap_list,
            s.group,
            client_id=f"{s.service_name}-{os.getpid()}",
            auto_offset_reset=s.auto_offset_reset,
            max_poll_records=s.batch_max,
            fetch_min_bytes=s.fetch_min_bytes,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            max_poll_interval_ms=s.max_poll_interval_ms,
            session_timeout_ms=s.session_timeout_ms,
            heartbeat_interval_ms=max(1000, s.session_timeout_ms // 3),
        )
        listener = AssignmentListener(self.stats, s.events_topic)
        if self.offsets is not None:  # assigned partitions wait, paused, to be claimed
            listener = DatabaseAssignment(self.stats, s.events_topic, self.offsets, self._kafka)
        # The redrive topic carries dead letters re-fed to this service only.
        self._kafka.subscribe([s.events_topic, s.redrive_topic], listener=listener)
        await self._kafka.start()
        self._loop_task = asyncio.create_task(self._run(), name=f"{s.service_name}-consume")
        self._watch_task = asyncio.create_task(self._watch.watch(self._loop_task))

    async def on_stop(self) -> None:
        # Let the batch in flight finish every step, so a clean stop redelivers nothing.
        self._stopping = True
        if self._loop_task is not None:
            try:
                await asyncio.wait_for(self._loop_task, timeout=30)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("consume loop did not finish in time; its batch will be redelivered")
        if self._watch_task is not None:
            self._watch_task.cancel()
        if self._kafka is not None:
            await self._kafka.stop()
        await self.dlq.stop()

    async def _run(self) -> None:
        assert self._kafka is not None
        while not self._stopping:
            self._watch.started()
            try:
                await self.step(self._kafka)
            except KafkaError as exc:  # broker gone: aiokafka reconnects; we poll again
                log.warning("kafka error in consume loop: %r", exc)
                await asyncio.sleep(1)  # back off before the next poll
            except Exception:
                log.exception("batch failed; it will be read again")
                await asyncio.sleep(1)  # back off before the next poll

    async def step(self, kafka: AIOKafkaConsumer) -> None:
        s = self.settings
        await self.resolve_positions(kafka)
        self.pause.apply(kafka, self.offsets.owned.keys() if self.offsets is not None else None)
        # Positions before and after: a failed fetch rewinds, an undecodable batch is isolated.
        fetched = await fetch(kafka, s.batch_within_ms, s.batch_max, s.fetch_top_up_ms)
        self.fetch_wait.adapt(kafka, sum(len(r) for r in fetched.records.values()))
        if self.offsets is not None:  # database mode: only what the database does not hold
            fetched = self.offsets.trim(kafka, fetched)
        else:  # a partition assigned during the fetch is read from here: /health says so now
            self.stats.add_positioned(fetched.after.keys(), s.events_topic)
        if fetched.empty:
            return
        try:
            await self.process(kafka, fetched)
        except Fenced as fence:  # rolled back: another instance owns these partitions now
            assert self.offsets is not None  # only database mode fences
            fetched.rewind(kafka)
            await self.offsets.fenced(kafka, fence)
        except BaseException:
            fetched.rewind(kafka)  # an exception never advances offsets: read it all again
            raise

    async def resolve_positions(self, kafka: AIOKafkaConsumer) -> None:
        """Settle where each newly owned partition starts (committed offset, or
        auto_offset_reset for a new group), so "ready" on /health means "reading from here".
        Database mode: claimed in the database and sought to the stored offset."""
        if self.offsets is not None:
            await self.offsets.claim_pending(kafka)
            claimed = kafka.assignment() & self.offsets.owned.keys()
            self.stats.set_positioned(claimed, self.settings.events_topic)
            return
        owned = kafka.assignment()
        for tp in owned - self.stats.positioned_tps:
            if tp.topic == self.settings.redrive_topic and await kafka.committed(tp) is None:
                await kafka.seek_to_beginning(tp)  # never skip a redrive, whatever the reset
            await kafka.position(tp)
        self.stats.set_positioned(owned, self.settings.events_topic)

    async def process(self, kafka: AIOKafkaConsumer, fetched: Fetched) -> None:
        items = decode(fetched)
        started = time.perf_counter()
        outcome = await self.persist(items)  # steps 1-5
        self.stats.record_batch(outcome, time.perf_counter() - started)
        self.crash_window()
        if self.offsets is None:  # (database mode sent them before its commit)
            await self.dlq.send(outcome.letters)  # step 6
        self.stats.dead_lettered.labels(self.settings.service_name).inc(len(outcome.letters))
        if self.offsets is None:
            await self.commit_offsets(kafka, fetched.commit_offsets)  # step 7
        else:  # database mode: committed in step 4; Kafka's mirror, best effort
            await self.offsets.mirror(kafka, fetched.commit_offsets)

    async def transaction(self, items: Sequence[Item]) -> Outcome:
        """Steps 1-4 in one database transaction; step 5 is leaving the block (commit). A batch
        holding an event seen before fails step 1's straight COPY, rolled back: it runs again
        with the staged claim (``shared.inbox``)."""
        try:
            return await self._transaction(items, staged=False)
        except inbox.SeenBefore:
            return await self._transaction(items, staged=True)

    async def _transaction(self, items: Sequence[Item], staged: bool) -> Outcome:
        deliveries, rejected, skipped = by_kind(items)
        tables = self.service.tables
        async with self.engine.begin() as conn:
            claim = await inbox.claim(  # 1
                conn, tables.inbox, deliveries, staged, self.service.carried
            )
            await self.service.handler(conn, claim.new, claim.absorbed)  # 2
            letters = dead_letters.of([*rejected, *claim.conflicts], self.dlq.payload_cap)
            first = await dead_letters.store(conn, tables.dead_letters, letters)  # 3
            outcome = await progress.record(  # 4
                conn, tables.progress, claim, letters, first, skipped
            )
            if self.offsets is None:
                return outcome
            moved = await self.offsets.advance(conn, items)  # 4, database mode: the offsets
            await self.dlq.send(letters)  # 6 before 5: no re-read would send them
        self.offsets.advanced(moved)
        return outcome

    async def persist(self, items: Sequence[Item]) -> Outcome:
        """Steps 1-5. A poison event fails the transaction: then the batch is split in halves,
        each persisted on its own (left first: partition order holds), until the poison stands
        alone and is dead-lettered as ``handler_error``."""
        try:
            return await self._retrying(items)
        except POISON_ERRORS as exc:
            if not any(isinstance(i, Delivery) for i in items):
                raise  # the dead letters themselves cannot fail a batch: the database did
            if len(items) == 1:
                (poison,) = items
                assert isinstance(poison, Delivery)
                log.warning("poison event at %s", position(poison))
                return await self._retrying([poisoned(poison, exc)])
            log.warning("batch of %d failed (%r); splitting it in halves", len(items), exc)
        half = len(items) // 2
        return (await self.persist(items[:half])).merge(await self.persist(items[half:]))

    async def _retrying(self, items: Sequence[Item]) -> Outcome:
        """One transaction, retried with backoff while the database is unavailable."""
        async for attempt in while_db_unavailable(lambda exc: self.stats.set_db(False, repr(exc))):
            with attempt:
                self.stats.attempt_transaction()
                return await self.transaction(items)
        raise AssertionError("unreachable: tenacity retries until success")

    def crash_window(self) -> None:
        """The crash switch: die after the DB commit, before the offset commit."""
        planned = self.settings.crash_after_batch == self.stats.batches
        if planned or self.crash_requested:
            print(
                f"{self.settings.service_name}: crash switch after batch {self.stats.batches}: "
                "DB committed, offsets not",
                file=sys.stderr,
                flush=True,
            )
            os._exit(CRASH_EXIT_CODE)


def position(item: Delivery | Rejected) -> str:
    return f"{item.topic}[{item.partition}]@{item.offset}"


def poisoned(d: Delivery, exc: BaseException) -> Rejected:
    # The driver's own message, not SQLAlchemy's (which repeats the whole statement).
    message = str(getattr(exc, "orig", None) or exc).strip()
    return Rejected(
        d.topic,
        d.partition,
        d.offset,
        d.raw,
        "handler_error",
        f"{type(exc).__name__}: {message}",
        d.event.event_id,
    )
