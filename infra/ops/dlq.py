"""Operator tools for dead-letter topics: list them (`./fanout dlq`) and redrive them
(`./fanout redrive`). Plain broker clients; the services never import this."""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared import broker
from shared.broker import partitions_of
from shared.dead_letters import REASON_HEADER
from shared.fetch import fetch


@dataclass(frozen=True)
class LetterView:
    partition: int
    offset: int
    timestamp: int
    key: str
    value: bytes | None
    headers: dict[str, str]

    @property
    def reason(self) -> str:
        return self.headers.get(REASON_HEADER, "")

    @property
    def source(self) -> str:
        h = self.headers
        return (
            f"{h.get('__connect.errors.topic')}[{h.get('__connect.errors.partition')}]"
            f"@{h.get('__connect.errors.offset')}"
        )


async def read_dead_letters(
    bootstrap: str, dlq_topic: str, newest: int | None = None
) -> list[LetterView]:
    """The dead-letter topic's letters, oldest first (no group, commits nothing); with
    ``newest``, only the last ``newest`` of each partition are read, never the whole topic."""
    letters, _ = await read_newest(bootstrap, dlq_topic, newest)
    return letters


async def read_newest(
    bootstrap: str, dlq_topic: str, newest: int | None
) -> tuple[list[LetterView], int]:
    """Like read_dead_letters, and how many letters the topic holds in all."""
    consumer = broker.consumer(bootstrap)
    await consumer.start()
    try:
        tps = await partitions_of(bootstrap, dlq_topic)
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        consumer.assign(tps)
        for tp in tps:
            skip = 0 if newest is None else max(ends[tp] - starts[tp] - newest, 0)
            consumer.seek(tp, starts[tp] + skip)
        out: list[LetterView] = []
        while await _behind(consumer, ends):
            # The services' fetch step: an undecodable batch is passed, never a traceback.
            for recs in (await fetch(consumer, 1000, None)).records.values():
                out += [_view(r) for r in recs]
        out.sort(key=lambda d: (d.timestamp, d.partition, d.offset))
        return (out if newest is None else out[-newest:]), sum(ends[t] - starts[t] for t in tps)
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _view(r: ConsumerRecord) -> LetterView:
    return LetterView(
        r.partition,
        r.offset,
        r.timestamp,
        (r.key or b"").decode(errors="replace"),
        r.value,
        {k: v.decode(errors="replace") for k, v in r.headers},
    )


async def redrive(bootstrap: str, service: str, dlq_topic: str, redrive_topic: str) -> int:
    """Re-feed dead letters not redriven before to ``service`` alone, through its redrive
    topic (no other group reads it). A group on the dead-letter topic remembers how far."""
    consumer = broker.consumer(bootstrap, f"{service}-redrive", auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await consumer.start()
    await producer.start()
    try:
        tps = await partitions_of(bootstrap, dlq_topic)
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        sent = 0
        while await _behind(consumer, ends):
            batch = await consumer.getmany(timeout_ms=1000)
            futures = [
                await producer.send(
                    redrive_topic,
                    r.value,
                    key=r.key,
                    headers=[
                        *r.headers,
                        ("fanout.redriven-from", f"{dlq_topic}[{r.partition}]@{r.offset}".encode()),
                    ],
                )
                for recs in batch.values()
                for r in recs
            ]
            for f in futures:
                await f
            sent += len(futures)
            await consumer.commit()  # only after the redrive topic acknowledged them
        return sent
    finally:
        await producer.stop()
        await consumer.stop()
