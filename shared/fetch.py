"""The fetch step: what one ``getmany`` handed over, with every partition's position before and
after it, so no fetch can lose a record and no batch the client cannot decode can stall one.

aiokafka drains partition by partition and moves each one's position as it goes. If decoding
one partition's records raises (a header name that is not UTF-8, a codec it lacks, a batch
that inflates past ``inflate.MAX_BATCH_BYTES``), the records it already drained from the
others are dropped with their positions moved: read on, and they are committed past, never
seen. So the one rule, for every failure of a fetch: **rewind every partition to where it
stood before the fetch**. Then, only if the failure was the client decoding a record batch
(its record parser is in the traceback, which also names the partition and the batch), the
batch is isolated: the records before it on its partition are handed over one at a time, its
offsets become ``Undecodable`` (dead-lettered as ``undecodable_batch``), and the partition
moves past it. Anything else (a broker that is down, an authorization error) only pauses:
nothing is skipped, the loop fetches again.

Offsets that carry no record for this reader (transaction markers and aborted records, which
a ``read_committed`` consumer never sees) show as gaps between positions; they come back as
``Skipped`` spans, so reconcile can account for every offset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import IllegalStateError

log = logging.getLogger(__name__)
Records = dict[TopicPartition, list[ConsumerRecord]]
DRAIN_WAIT_MS = 2_000  # the isolated partition's good records are usually buffered already
AT_ONCE_S = 0.001  # a getmany this quick handed over records the client already held


@dataclass(frozen=True, slots=True)
class Skipped:
    """Offsets ``[start, end)`` of a partition with no record for this reader."""

    topic: str
    partition: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Offsets ``[start, end)`` of a record batch the client could not decode, and why."""

    topic: str
    partition: int
    start: int
    end: int
    error: str


@dataclass
class Fetched:
    """One fetch: records, undecodable batches, and each partition's position before and after
    (``after`` is where the partition resumes: what a commit of this fetch commits)."""

    records: Records
    before: dict[TopicPartition, int]
    after: dict[TopicPartition, int]
    undecodable: list[Undecodable] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.commit_offsets

    @property
    def commit_offsets(self) -> dict[TopicPartition, int]:
        """Partitions this fetch moved, and where to."""
        return {tp: end for tp, end in self.after.items() if end > self.before.get(tp, -1)}

    def partitions(self) -> Iterator[tuple[TopicPartition, list[ConsumerRecord]]]:
        for tp in sorted(self.commit_offsets, key=lambda t: (t.topic, t.partition)):
            yield tp, self.records.get(tp, [])

    def skipped(self, tp: TopicPartition) -> list[Skipped]:
        """The gaps in ``[before, after)`` of ``tp`` that are neither a record nor undecodable."""
        stop = min([u.start for u in self.undecodable if _tp(u) == tp], default=self.after[tp])
        out, expected = [], self.before.get(tp)
        for r in [*self.records.get(tp, []), None]:
            at = stop if r is None else r.offset
            if expected is not None and at > expected:
                out.append(Skipped(tp.topic, tp.partition, expected, at))
            expected = None if r is None else r.offset + 1
        return out

    def rewind(self, kafka: AIOKafkaConsumer) -> None:
        """Every partition back to where it stood before this fetch (those still owned)."""
        rewind(kafka, self.before)


def _tp(u: Undecodable) -> TopicPartition:
    return TopicPartition(u.topic, u.partition)


async def positions(kafka: AIOKafkaConsumer) -> dict[TopicPartition, int]:
    out = {}
    for tp in kafka.assignment():
        try:
            out[tp] = await kafka.position(tp)
        except IllegalStateError:  # revoked meanwhile: not ours to account for
            continue
    return out


def rewind(kafka: AIOKafkaConsumer, before: dict[TopicPartition, int]) -> None:
    owned = kafka.assignment()
    for tp, offset in before.items():
        if tp in owned:
            kafka.seek(tp, offset)


async def fetch(
    kafka: AIOKafkaConsumer, timeout_ms: int, max_records: int | None, top_up_ms: int = 0
) -> Fetched:
    """One ``getmany`` (topped up, see ``_getmany``); the module's docstring says what a
    failure does."""
    before = await positions(kafka)
    try:
        records = await _getmany(kafka, timeout_ms, max_records, top_up_ms)
    except Exception as exc:
        rewind(kafka, before)  # nothing any partition drained is lost
        bad = failed_batch(exc)
        if bad is None or TopicPartition(bad.topic, bad.partition) not in before:
            raise
        log.warning("undecodable batch at %s[%d]@%d: %s", bad.topic, bad.partition, bad.start,
                    bad.error)  # fmt: skip
        try:
            return await isolate(kafka, before, bad)
        except BaseException:
            rewind(kafka, before)  # the isolation failed too: still nothing lost
            raise
    after = await positions(kafka)
    for tp, recs in records.items():  # a partition assigned during the fetch
        if recs and tp not in before:
            before[tp] = recs[0].offset
            after[tp] = max(after.get(tp, 0), recs[-1].offset + 1)
    return Fetched(records, before, after)


async def _getmany(
    kafka: AIOKafkaConsumer, timeout_ms: int, max_records: int | None, top_up_ms: int
) -> Records:
    """What the client holds, topped up with what reached the broker meanwhile.

    aiokafka keeps one fetched response per partition and fetches again only once it is
    drained. So records handed over at once came from a fetch made while the last batch was
    being written, and whatever arrived after that waits on the broker for a whole batch more.
    Draining them sends that fetch now: one short wait joins its records to this batch. Under
    a backlog the first call already brings ``max_records`` and nothing waits."""
    started = time.perf_counter()
    records = await kafka.getmany(timeout_ms=timeout_ms, max_records=max_records)
    count = sum(len(r) for r in records.values())
    at_once = time.perf_counter() - started < AT_ONCE_S
    if not records or not top_up_ms or not at_once or count == (max_records or -1):
        return records
    left = None if max_records is None else max_records - count
    for tp, more in (await kafka.getmany(timeout_ms=top_up_ms, max_records=left)).items():
        records[tp] = [*records.get(tp, []), *more]
    return records


async def isolate(
    kafka: AIOKafkaConsumer, before: dict[TopicPartition, int], bad: Undecodable
) -> Fetched:
    """The records of ``bad``'s partition before the batch, one at a time (each one handed over
    moves the position past it alone); then the partition moves past the batch."""
    tp = TopicPartition(bad.topic, bad.partition)
    good: list[ConsumerRecord] = []
    while await kafka.position(tp) < bad.start:
        try:
            got = await kafka.getmany(tp, timeout_ms=DRAIN_WAIT_MS, max_records=1)
        except Exception as exc:
            again = failed_batch(exc)
            if again is None or (again.partition, again.start) != (bad.partition, bad.start):
                raise  # something else failed: the caller rewinds, nothing is skipped
            break  # the bad batch again (after markers): everything before it is out
        if not got:
            raise TimeoutError(f"{tp}: records before the undecodable batch did not arrive")
        good += got.get(tp, [])
    kafka.seek(tp, bad.end)
    return Fetched({tp: good}, {tp: before[tp]}, {tp: bad.end}, [bad])


def failed_batch(exc: BaseException) -> Undecodable | None:
    """The batch whose decoding raised ``exc``, read from aiokafka's record parser's frame
    (``PartitionRecords._unpack_records``: its partition, position and batch); None when the
    failure happened anywhere else."""
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "_unpack_records" and "next_batch" in frame.f_locals:
            parser, batch = frame.f_locals["self"], frame.f_locals["next_batch"]
            start, end = int(parser.next_fetch_offset), int(batch.next_offset)
            tp = parser._tp
            error = f"{type(exc).__name__}: {exc}"
            return Undecodable(tp.topic, tp.partition, start, max(end, start + 1), error)
        tb = tb.tb_next
    return None
