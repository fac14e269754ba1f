"""Publish events to the topic: acknowledged (acks=all, idempotent) or fire-and-forget (acks=0)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from shared import broker
from shared.events import Event

WINDOW = 2000  # sends in flight before we wait for their acknowledgements


@dataclass
class PublishResult:
    sent: int = 0
    acknowledged: int = 0
    failed: int = 0
    seconds: float = 0.0


def make_producer(bootstrap: list[str] | str, acks: str) -> AIOKafkaProducer:
    return broker.producer(
        bootstrap,
        acks="all" if acks == "all" else int(acks),
        # Idempotence: a retried send is written once; needs acks=all.
        enable_idempotence=acks == "all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=30_000,
    )


Acked = Callable[[Event, BaseException | None], None]


async def publish(
    producer: AIOKafkaProducer,
    topic: str,
    events: Iterable[Event],
    rate: float = 0,
    on_sent: Callable[[int], None] | None = None,
    acks: str = "all",
    on_acked: Acked | None = None,
) -> PublishResult:
    """Send every event keyed by user_id; ``rate`` events/s (0 = as fast as possible).
    ``on_acked(event, error)`` hears each event's own outcome (one future per event then)."""
    if rate == 0 and on_acked is None:
        return await publish_batched(producer, topic, events, on_sent, acks)
    result = PublishResult()
    pending: list[asyncio.Future[object]] = []
    start = time.monotonic()
    # Settle acknowledgements about ten times a second when paced, else every WINDOW sends.
    window = max(1, int(rate / 10)) if rate > 0 else WINDOW
    source = iter(events)
    while True:
        if rate > 0:
            due = start + result.sent / rate
            if (delay := due - time.monotonic()) > 0:
                await asyncio.sleep(delay)  # pacing to the requested rate
        # Taken after the pause: an event made as it is sent carries its send time.
        if (event := next(source, None)) is None:
            break
        key = event.user_id.encode() if event.user_id else None
        future = await producer.send(topic, event.to_json(), key=key)
        if on_acked:
            future.add_done_callback(lambda f, e=event: on_acked(e, f.exception()))
        pending.append(future)
        result.sent += 1
        if len(pending) >= window:
            await _settle(pending, result, acks)
        if on_sent:
            on_sent(1)
    await _settle(pending, result, acks)
    result.seconds = time.monotonic() - start
    return result


async def _settle(pending: list[asyncio.Future[object]], result: PublishResult, acks: str) -> None:
    outcomes = await asyncio.gather(*pending, return_exceptions=True)
    pending.clear()
    for o in outcomes:
        if isinstance(o, BaseException):
            result.failed += 1
        elif acks != "0":  # acks=0: the broker never answers, nothing is acknowledged
            result.acknowledged += 1


async def publish_batched(
    producer: AIOKafkaProducer,
    topic: str,
    events: Iterable[Event],
    on_sent: Callable[[int], None] | None = None,
    acks: str = "all",
) -> PublishResult:
    """Flat out: fill one record batch per partition and hand over whole batches, instead of
    a future per event (the per-event path costs more CPU than the broker does)."""
    result = PublishResult()
    partitions = sorted(await producer.partitions_for(topic))
    partitioner = DefaultPartitioner()
    open_batches: dict[int, tuple[BatchBuilder, int]] = {}
    in_flight: list[tuple[asyncio.Future[object], int]] = []
    start = time.monotonic()

    async def ship(partition: int) -> None:
        builder, n = open_batches.pop(partition)
        in_flight.append((await producer.send_batch(builder, topic, partition=partition), n))
        if len(in_flight) >= 64:
            await _settle_batches(in_flight, result, acks)

    for event in events:
        key = event.user_id.encode() if event.user_id else None
        partition = partitioner(key, partitions, partitions)
        value = event.to_json()
        builder, n = open_batches.get(partition) or (producer.create_batch(), 0)
        if builder.append(key=key, value=value, timestamp=None) is None:  # full: ship it
            open_batches[partition] = (builder, n)
            await ship(partition)
            builder, n = producer.create_batch(), 0
            builder.append(key=key, value=value, timestamp=None)
        open_batches[partition] = (builder, n + 1)
        result.sent += 1
        if on_sent:
            on_sent(1)
    for partition in list(open_batches):
        await ship(partition)
    await _settle_batches(in_flight, result, acks)
    result.seconds = time.monotonic() - start
    return result


async def _settle_batches(
    in_flight: list[tuple[asyncio.Future[object], int]], result: PublishResult, acks: str
) -> None:
    outcomes = await asyncio.gather(*(f for f, _ in in_flight), return_exceptions=True)
    for outcome, (_, n) in zip(outcomes, in_flight, strict=True):
        if isinstance(outcome, BaseException):
            result.failed += n
        elif acks != "0":
            result.acknowledged += n
    in_flight.clear()
