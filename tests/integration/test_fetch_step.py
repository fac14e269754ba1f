"""The fetch step (shared/fetch.py) on the real broker: a fetch that fails after the client
drained some partitions loses nothing; a record the client cannot decode is isolated with
exactly its offsets; and an isolation that fails too loses nothing either.

Failures are injected at the client boundary (a value deserializer that raises inside the
client's record parser, a ``fetched_records`` that drains and then raises, a one-partition
drain that raises): the broker and the records are real.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.polling import async_wait_for
from shared import broker
from shared.fetch import Undecodable, fetch, positions
from tests.support.kafka import new_topic, produce_to

COUNTS = {0: 30, 1: 30, 2: 30}
POISON = b"boom"


class Injected(RuntimeError):
    pass


def _deserialize(raw: bytes | None) -> bytes | None:
    if raw == POISON:
        raise ValueError("cannot decode this one")
    return raw


async def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    kafka = broker.consumer(bootstrap, value_deserializer=_deserialize)
    await kafka.start()
    tps = [TopicPartition(topic, p) for p in COUNTS]
    kafka.assign(tps)
    await kafka.seek_to_beginning(*tps)
    return kafka


async def _poison(bootstrap: str, topic: str, partition: int) -> int:
    producer = broker.producer(bootstrap, acks="all")
    await producer.start()
    try:
        return int((await producer.send_and_wait(topic, POISON, partition=partition)).offset)
    finally:
        await producer.stop()


async def _read_all(
    kafka: AIOKafkaConsumer, total: int
) -> tuple[Counter[bytes], list[Undecodable], int]:
    """Fetch until ``total`` offsets are passed, fetching again after an injected failure as
    the consume loop does; returns the values seen, the undecodable batches, the failures."""
    seen: Counter[bytes] = Counter()
    bad: list[Undecodable] = []
    failed = 0
    async with asyncio.timeout(30):
        while sum((await positions(kafka)).values()) < total:
            try:
                got = await fetch(kafka, 500, None)
            except Injected:
                failed += 1
                continue
            seen.update(r.value for recs in got.records.values() for r in recs)
            bad += got.undecodable
    return seen, bad, failed


def _values(counts: dict[int, int], prefix: str = "v") -> Counter[bytes]:
    return Counter(f"{prefix}-p{p}-{i}".encode() for p, n in counts.items() for i in range(n))


def test_an_undecodable_record_is_isolated_with_exactly_its_offsets(bootstrap: str) -> None:
    topic = new_topic(bootstrap, "fetch-poison", len(COUNTS))

    async def run() -> None:
        await produce_to(bootstrap, topic, COUNTS)
        at = await _poison(bootstrap, topic, 2)
        await produce_to(bootstrap, topic, {2: 5}, prefix="after")
        kafka = await _consumer(bootstrap, topic)
        try:
            seen, bad, _ = await _read_all(kafka, sum(COUNTS.values()) + 6)
        finally:
            await kafka.stop()
        assert seen == _values(COUNTS) + _values({2: 5}, "after")
        assert [(u.partition, u.start, u.end) for u in bad] == [(2, at, at + 1)]
        assert bad[0].error.startswith("ValueError: cannot decode this one")

    asyncio.run(run())


def _drain_then_raise(kafka: AIOKafkaConsumer, times: int) -> list[int]:
    """``fetched_records`` drains (moving positions, as aiokafka does) and then raises."""
    fetcher = kafka._fetcher
    real: Callable[..., Awaitable[Any]] = fetcher.fetched_records
    raised = [0]

    async def failing(*args: Any, **kwargs: Any) -> Any:
        drained = await real(*args, **kwargs)
        if drained and raised[0] < times:
            raised[0] += 1
            raise Injected(f"after draining {sorted(tp.partition for tp in drained)}")
        return drained

    fetcher.fetched_records = failing
    return raised


def test_a_fetch_that_fails_after_draining_loses_nothing(bootstrap: str) -> None:
    topic = new_topic(bootstrap, "fetch-rewind", len(COUNTS))

    async def run() -> None:
        await produce_to(bootstrap, topic, COUNTS)
        kafka = await _consumer(bootstrap, topic)
        try:
            raised = _drain_then_raise(kafka, times=3)
            before = await positions(kafka)
            with pytest.raises(Injected):
                await fetch(kafka, 2000, None)
            assert await positions(kafka) == before, "a failed fetch moved positions"
            seen, _, failed = await _read_all(kafka, sum(COUNTS.values()))
        finally:
            await kafka.stop()
        assert (raised, failed) == ([3], 2)
        assert seen == _values(COUNTS), "every record exactly once"

    asyncio.run(run())


def test_an_isolation_that_fails_too_loses_nothing(bootstrap: str) -> None:
    """The failure of the failure handling: the drain before the undecodable record fails
    once; every partition is rewound, and the next fetch isolates it after all."""
    topic = new_topic(bootstrap, "fetch-isolate-fails", len(COUNTS))

    async def run() -> None:
        await produce_to(bootstrap, topic, COUNTS)
        at = await _poison(bootstrap, topic, 1)
        kafka = await _consumer(bootstrap, topic)
        real, drains = kafka.getmany, [0]

        async def flaky(*tps: TopicPartition, **kw: Any) -> Any:
            if tps:  # the isolation's one-partition drain
                drains[0] += 1
                if drains[0] == 1:
                    raise Injected("the drain failed")
            return await real(*tps, **kw)

        kafka.getmany = flaky  # type: ignore[method-assign]
        try:
            seen, bad, failed = await _read_all(kafka, sum(COUNTS.values()) + 1)
        finally:
            await kafka.stop()
        assert seen == _values(COUNTS)
        assert [(u.partition, u.start, u.end) for u in bad] == [(1, at, at + 1)]
        assert failed == 1

    asyncio.run(run())


async def _buffered(kafka: AIOKafkaConsumer, topic: str) -> None:
    """Until the client holds a fetched response for every partition (and so fetches no more
    until they are drained)."""

    async def full() -> bool:
        return len(kafka._fetcher._records) == len(COUNTS)

    await async_wait_for(full, timeout=10, what=f"{topic}: the client buffering every partition",
                         interval=0.01)  # fmt: skip


@pytest.mark.parametrize("top_up_ms", [0, 5000])
def test_held_records_are_topped_up_with_what_reached_the_broker_since(
    bootstrap: str, top_up_ms: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records the client held are joined by what reached the broker after they were fetched,
    in partition order, in one fetch (0: only what was held)."""
    topic = new_topic(bootstrap, "fetch-top-up", len(COUNTS))
    # However slow this machine, the first getmany counts as handing over held records.
    monkeypatch.setattr("shared.fetch.AT_ONCE_S", 60.0)

    async def run() -> None:
        await produce_to(bootstrap, topic, COUNTS, prefix="held")
        kafka = await _consumer(bootstrap, topic)
        try:
            await _buffered(kafka, topic)
            await produce_to(bootstrap, topic, COUNTS, prefix="later")
            got = await fetch(kafka, 500, None, top_up_ms=top_up_ms)
        finally:
            await kafka.stop()
        values = {tp.partition: [r.value for r in recs] for tp, recs in got.records.items()}
        later = {p: [f"later-p{p}-{i}".encode() for i in range(n)] for p, n in COUNTS.items()}
        held = {p: [f"held-p{p}-{i}".encode() for i in range(n)] for p, n in COUNTS.items()}
        assert values == ({p: held[p] + later[p] for p in COUNTS} if top_up_ms else held)
        assert got.commit_offsets == {
            TopicPartition(topic, p): n * (2 if top_up_ms else 1) for p, n in COUNTS.items()
        }

    asyncio.run(run())
