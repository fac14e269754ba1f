"""The dead-letter topic (``<events topic>.<service>.dlq``): the sender whose limits are the
topic's own, and the minimal form for a letter the broker refuses for what it holds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from shared.broker import BrokerError, topic_config
from shared.dead_letters import DeadLetter, payload_cap
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588  # Kafka's default max.message.bytes
# Broker or client refusals caused by the record itself: retrying cannot help.
CONTENT_ERRORS = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
)


class DeadLetterSender:
    """Sends dead letters; its limits are read from the topic at start."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.payload_cap = payload_cap(DEFAULT_MAX_MESSAGE_BYTES)

    async def start(self) -> None:
        s = self.settings
        # Just created: the broker may not know it yet for a moment.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(BrokerError),
            wait=wait_fixed(0.2),
            stop=stop_after_delay(30),
            reraise=True,
        ):
            with attempt:
                limit = await topic_config(
                    s.kafka_bootstrap_servers, s.dlq_topic, "max.message.bytes"
                )
        max_bytes = int(limit) if limit else DEFAULT_MAX_MESSAGE_BYTES
        self.payload_cap = payload_cap(max_bytes)
        # Created here, not in __init__: aiokafka binds to the running event loop.
        self.producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_list,
            acks="all",
            enable_idempotence=True,
            max_request_size=max_bytes,  # the topic's own limit: refused here, not by the broker
        )
        await self.producer.start()

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def send(self, letters: Sequence[DeadLetter]) -> None:
        """Send and wait for the broker; a letter refused for its content goes again in its
        minimal form. Raises only when the broker cannot take even that (offsets then stay)."""
        refused = [
            d.as_minimal(error)
            for d, error in zip(letters, await self._send(letters), strict=True)
            if error is not None
        ]
        if refused:
            log.warning("%d dead letters refused in full; sending the minimal form", len(refused))
            for error in await self._send(refused):
                if error is not None:
                    raise error

    async def _send(self, letters: Sequence[DeadLetter]) -> list[BaseException | None]:
        """One result per letter: None when acknowledged, the error when refused for its
        content. Any other failure (the broker unreachable) raises."""
        pending = [await self._enqueue(d) for d in letters]
        return [await _settle(p) for p in pending]

    async def _enqueue(self, d: DeadLetter) -> asyncio.Future[object] | BaseException:
        assert self.producer is not None, "start() first"
        try:
            return await self.producer.send(
                self.settings.dlq_topic,
                d.payload,
                key=d.key,
                headers=d.headers(self.settings.service_name),
            )
        except CONTENT_ERRORS as exc:  # over the client's own limit: refused before sending
            return exc


async def _settle(pending: asyncio.Future[object] | BaseException) -> BaseException | None:
    if isinstance(pending, BaseException):
        return pending
    try:
        await pending
    except CONTENT_ERRORS as exc:
        return exc
    return None
