"""``OFFSET_STORE=database``: each partition's next offset kept in the service's own database,
written in the batch's own transaction, so no crash can fall between the data and its offset.

The row (``shared.schema.offsets_table``): group, topic, partition, next offset, owner epoch
and instance. Its life, as the consume loop drives it:

- **Assigned** (the rebalance listener): the partitions are paused at once and wait to be
  claimed — aiokafka only logs what a listener raises and goes on fetching from Kafka's
  committed offset, so nothing that can fail (the database) runs there.
- **Claimed** (top of each step, ``claim_pending``): in one short transaction with a lock and
  a statement timeout, create the row if absent (seeded from Kafka's committed offset, else
  the reset policy), bump the owner epoch, read the next offset; then seek there and resume.
  The database down: the partitions stay paused, the claim is retried from the loop.
  A Kafka offset ahead of the row (the group ran in ``kafka`` mode since) wins: the row can
  only be behind then, never ahead of what the database holds.
- **Per batch**: ``trim`` drops records below the next offset (and partitions not claimed);
  ``advance`` moves each row with a compare-and-set on (owner epoch, expected offset) inside
  the transaction. No row matched: another instance claimed the partition since (this one is
  a zombie after a rebalance) — ``Fenced`` rolls the transaction back, and the partition is
  forgotten (paused, unowned) until the group assigns it again.
- Then the loop commits the same offsets to Kafka, best effort (``./fanout groups``,
  kafka-consumer-groups and autoscalers still see the group's lag); a claim mirrors a row that
  is ahead of Kafka's offset at once, so the mirror catches up after a crash.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import offset_rows as rows
from shared.db import TRANSIENT_DB_ERRORS
from shared.fetch import Fetched, Skipped
from shared.items import Item
from shared.offset_rows import Claim
from shared.settings import ServiceSettings
from shared.stats import AssignmentListener, ServiceStats

log = logging.getLogger(__name__)
CLAIM_RETRY_S = 1.0


class Fenced(Exception):
    """Another instance owns these partitions now: this transaction must not commit."""

    def __init__(self, tps: Iterable[TopicPartition]) -> None:
        self.tps = set(tps)
        super().__init__(", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(self.tps)))


class DatabaseOffsets:
    """The partitions this instance has claimed in the database, and what it owes each one."""

    def __init__(
        self, settings: ServiceSettings, engine: AsyncEngine, table: sa.Table, stats: ServiceStats
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.table = table
        self.stats = stats
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.owned: dict[TopicPartition, Claim] = {}
        self.pending: dict[TopicPartition, int] = {}  # assigned, not claimed: its generation
        self._generation = 0
        self._retry_at = 0.0

    # --- assignment (the rebalance listener: nothing here may fail) ----------------------

    def assigned(self, kafka: AIOKafkaConsumer, tps: set[TopicPartition]) -> None:
        self._generation += 1
        for tp in tps:
            self.owned.pop(tp, None)
            self.pending[tp] = self._generation
        kafka.pause(*tps)  # fetch nothing before the seek to the stored offset
        self._retry_at = 0.0

    def revoked(self, tps: set[TopicPartition]) -> None:
        for tp in tps:
            self.owned.pop(tp, None)
            self.pending.pop(tp, None)

    def forget(self, kafka: AIOKafkaConsumer, tps: set[TopicPartition]) -> None:
        """Fenced: unowned and paused until the group assigns these partitions again."""
        owned = kafka.assignment()
        for tp in tps:
            self.owned.pop(tp, None)
        kafka.pause(*(tp for tp in tps if tp in owned))

    # --- claiming (from the loop) --------------------------------------------------------

    async def claim_pending(self, kafka: AIOKafkaConsumer) -> None:
        """Claim every pending partition, seek it to its stored offset and resume it. The
        database unavailable: they stay paused, tried again in CLAIM_RETRY_S."""
        assigned = kafka.assignment()
        self.pending = {tp: g for tp, g in self.pending.items() if tp in assigned}
        if not self.pending or time.monotonic() < self._retry_at:
            return
        asked = dict(self.pending)
        kafka_offsets = {tp: await kafka.committed(tp) for tp in sorted(asked)}
        seeds = await rows.seeds(kafka, kafka_offsets, self._from_beginning)
        try:
            claims = await rows.claim(
                self.engine, self.table, self.settings.group, self.instance, seeds, kafka_offsets
            )
        except (*TRANSIENT_DB_ERRORS, DBAPIError) as exc:
            self._retry_at = time.monotonic() + CLAIM_RETRY_S
            self.stats.set_db(False, repr(exc))
            log.warning("claiming %d partitions failed (kept paused): %r", len(asked), exc)
            return
        self.stats.set_db(True)
        behind = self._take(kafka, asked, claims)
        await self.mirror(kafka, {tp: claims[tp].next_offset for tp in behind if
                                  claims[tp].next_offset > (kafka_offsets[tp] or 0)})  # fmt: skip

    def _from_beginning(self, tp: TopicPartition) -> bool:
        """Without a committed offset: a redrive topic from its beginning whatever the reset
        policy (a redrive is never skipped), else the policy."""
        s = self.settings
        return tp.topic == s.redrive_topic or s.auto_offset_reset == "earliest"

    def _take(
        self,
        kafka: AIOKafkaConsumer,
        asked: dict[TopicPartition, int],
        claims: dict[TopicPartition, Claim],
    ) -> list[TopicPartition]:
        """Seek and resume what is still assigned as it was when the claim began (a
        reassignment meanwhile claims again: its epoch may be stale)."""
        taken = []
        for tp, claim in claims.items():
            if self.pending.get(tp) != asked[tp] or tp not in kafka.assignment():
                continue
            kafka.seek(tp, claim.next_offset)
            self.owned[tp] = claim
            del self.pending[tp]
            kafka.resume(tp)
            taken.append(tp)
            log.info("claimed %s[%d] at %d (epoch %d)", tp.topic, tp.partition,
                     claim.next_offset, claim.epoch)  # fmt: skip
        return taken

    # --- per batch -----------------------------------------------------------------------

    def trim(self, kafka: AIOKafkaConsumer, fetched: Fetched) -> Fetched:
        """The fetch without what the database already holds (records below a partition's
        next offset) and without partitions not claimed (those are paused again)."""
        records, before, after = {}, {}, {}
        for tp, end in fetched.commit_offsets.items():
            claim = self.owned.get(tp)
            if claim is None:
                kafka.pause(tp)  # pending or fenced: claimed (and sought) before it is read
                continue
            start = max(claim.next_offset, fetched.before[tp])
            if fetched.before[tp] > claim.next_offset:  # retention deleted them meanwhile
                log.warning("%s[%d]: offsets %d-%d are no longer in the log", tp.topic,
                            tp.partition, claim.next_offset, fetched.before[tp] - 1)  # fmt: skip
            if end > start:
                records[tp] = [r for r in fetched.records.get(tp, []) if r.offset >= start]
                before[tp], after[tp] = start, end
            else:  # all of it is in the database already: read on from the stored offset
                kafka.seek(tp, claim.next_offset)
        kept = [u for u in fetched.undecodable
                if TopicPartition(u.topic, u.partition) in after]  # fmt: skip
        return Fetched(records, before, after, kept)

    async def advance(
        self, conn: AsyncConnection, items: Sequence[Item]
    ) -> dict[TopicPartition, Claim]:
        """Step 4b: each partition of ``items`` moved past them, compare-and-set on (epoch,
        expected offset), in the caller's transaction. Raises ``Fenced`` when a row did not
        match (the caller's transaction must roll back). Returns the new claims."""
        ends: dict[TopicPartition, int] = {}
        for i in items:
            tp = TopicPartition(i.topic, i.partition)
            ends[tp] = max(ends.get(tp, 0), i.end if isinstance(i, Skipped) else i.offset + 1)
        lost = {tp for tp in ends if tp not in self.owned}
        if lost:
            raise Fenced(lost)  # revoked during the batch
        moves = sorted(ends.items())
        claims = [self.owned[tp] for tp, _ in moves]
        done = await rows.compare_and_set(conn, self.table, self.settings.group, moves, claims)
        if len(done) != len(moves):
            raise Fenced(tp for tp, _ in moves if tp not in done)
        return {tp: Claim(c.epoch, end) for (tp, end), c in zip(moves, claims, strict=True)}

    async def fenced(self, kafka: AIOKafkaConsumer, fence: Fenced) -> int:
        """After ``fence`` rolled a transaction back: a partition whose row still carries this
        instance's epoch only had another next offset (a commit whose outcome was lost, then
        retried): read it and seek there. The others are another instance's now: forgotten.
        Returns how many were fenced (one batch counted in ``fanout_fenced_total``)."""
        stored = await rows.stored(self.engine, self.table, self.settings.group)
        gone = set()
        for tp in fence.tps:
            mine, row = self.owned.get(tp), stored.get(tp)
            if mine is not None and row is not None and row.epoch == mine.epoch:
                self.owned[tp] = row
                kafka.seek(tp, row.next_offset)
            else:
                gone.add(tp)
        self.forget(kafka, gone)
        if gone:
            self.stats.fenced.labels(self.settings.service_name).inc()
            log.warning("fenced: transaction refused, %s no longer this instance's (claimed "
                        "by another, or revoked during the batch)", Fenced(gone))  # fmt: skip
        return len(gone)

    def advanced(self, claims: dict[TopicPartition, Claim]) -> None:
        """After the transaction committed: the partitions' next offsets moved."""
        for tp, claim in claims.items():
            if tp in self.owned:
                self.owned[tp] = claim

    async def mirror(self, kafka: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        """Kafka's copy of the offsets, best effort: lag tooling reads it, nothing relies on
        it (the row is the truth: a mirror that failed is only behind)."""
        mine = {tp: off for tp, off in offsets.items() if tp in self.owned}
        try:
            if mine:
                await kafka.commit(mine)
                topic = self.settings.events_topic
                self.stats.record_commit({tp.partition: o for tp, o in mine.items()
                                          if tp.topic == topic})  # fmt: skip
        except KafkaError as exc:  # a rebalance, the broker away: the next batch mirrors
            self.stats.commit_failures.labels(self.settings.service_name).inc()
            log.warning("offset mirror to Kafka failed (harmless in database mode): %r", exc)


class DatabaseAssignment(AssignmentListener):
    """The dashboard's view (as in kafka mode), plus: assigned partitions paused and pending
    until claimed; revoked ones forgotten."""

    def __init__(
        self, stats: ServiceStats, topic: str, offsets: DatabaseOffsets, kafka: AIOKafkaConsumer
    ) -> None:
        super().__init__(stats, topic)
        self.offsets = offsets
        self.kafka = kafka

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await super().on_partitions_revoked(revoked)
        self.offsets.revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await super().on_partitions_assigned(assigned)
        self.offsets.assigned(self.kafka, assigned)
