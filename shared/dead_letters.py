"""The dead-letter topic: each rejected event, as it arrived, with why in its headers.

Headers follow Kafka Connect's error-reporting names (``__connect.errors.*``) so existing
tooling reads them, plus ``fanout.service`` and ``fanout.reason``. Sent after the batch's DB
commit and acknowledged before its offsets are committed: a crash in between sends a dead
letter twice (keyed by its source position, so readers can tell), never loses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from shared.events import Rejected
from shared.kafka_admin import partitions_of
from shared.settings import ServiceSettings

REASON_HEADER = "fanout.reason"


def headers(r: Rejected, service: str) -> list[tuple[str, bytes]]:
    return [
        ("__connect.errors.topic", r.topic.encode()),
        ("__connect.errors.partition", str(r.partition).encode()),
        ("__connect.errors.offset", str(r.offset).encode()),
        ("__connect.errors.exception.class.name", error_class(r).encode()),
        ("__connect.errors.exception.message", r.error.encode()),
        ("fanout.service", service.encode()),
        (REASON_HEADER, r.reason.encode()),
    ]


def error_class(r: Rejected) -> str:
    """``handler_error`` messages start with the exception's class name."""
    return r.error.split(":", 1)[0] if r.reason == "handler_error" else "fanout.InvalidEvent"


class DeadLetterSender:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        # Created here, not in __init__: aiokafka binds to the running event loop.
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.bootstrap_list, acks="all", enable_idempotence=True
        )
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def send(self, rejected: Sequence[Rejected]) -> None:
        if not rejected:
            return
        assert self.producer is not None, "start() first"
        futures = [
            await self.producer.send(
                self.settings.dlq_topic,
                r.raw,
                key=f"{r.topic}:{r.partition}:{r.offset}".encode(),
                headers=headers(r, self.settings.service_name),
            )
            for r in rejected
        ]
        for f in futures:
            await f  # raises if the broker did not take it: offsets then stay uncommitted


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
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


async def read_dead_letters(bootstrap: str, dlq_topic: str) -> list[DeadLetter]:
    """Everything on the dead-letter topic, oldest first (no group, commits nothing)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(bootstrap, dlq_topic)
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[DeadLetter] = []
        while await _behind(consumer, ends):
            for recs in (await consumer.getmany(timeout_ms=1000)).values():
                out += [_dead_letter(r) for r in recs]
        return out
    finally:
        await consumer.stop()


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


def _dead_letter(r: ConsumerRecord) -> DeadLetter:
    return DeadLetter(
        r.partition,
        r.offset,
        (r.key or b"").decode(errors="replace"),
        r.value,
        {k: v.decode(errors="replace") for k, v in r.headers},
    )


async def redrive(bootstrap: str, service: str, dlq_topic: str, redrive_topic: str) -> int:
    """Re-feed dead letters not redriven before to ``service`` alone, through its redrive
    topic (no other group reads it). A group on the dead-letter topic remembers how far."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"{service}-redrive",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
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
