"""Real producers, writing what the Kafka protocol allows and other clients do: every codec,
transactions committed and aborted, header names that are not UTF-8, huge or many headers,
a compressed batch that inflates a thousandfold. Each writes one record to one partition and
waits for the broker's acknowledgement (for an aborted transaction: for the abort)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from unittest import mock

from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy

from shared import broker
from shared.inflate import MAX_BATCH_BYTES

Writer = Callable[[str, str, int, bytes], Awaitable[None]]
BOMB_BYTES = MAX_BATCH_BYTES + 36 * 1024 * 1024  # 100 MiB of zeros: ~100 KB in gzip


async def _send(bootstrap: str, topic: str, partition: int, value: bytes, **opts: Any) -> None:
    headers = opts.pop("headers", None)
    producer = broker.producer(bootstrap, acks="all", **opts)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k", partition=partition, headers=headers)
    finally:
        await producer.stop()


async def plain(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
    await _send(bootstrap, topic, partition, value)


def compressed(codec: str) -> Writer:
    async def write(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
        await _send(bootstrap, topic, partition, value, compression_type=codec)

    return write


class _RawName(str):
    """A header name whose bytes are not UTF-8 (the protocol allows any bytes)."""

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"\xff\xfe-" + str.encode(self, encoding, errors)


@contextlib.contextmanager
def _python_record_builder() -> Iterator[None]:
    """aiokafka's pure-Python batch builder, which writes a header name as its ``encode()``
    returns it (the C builder insists on a str): how other clients' bytes are made here."""
    with (
        mock.patch("aiokafka.producer.message_accumulator.DefaultRecordBatchBuilder",
                   _DefaultRecordBatchBuilderPy),
        mock.patch("aiokafka.producer.producer.DefaultRecordBatchBuilder",
                   _DefaultRecordBatchBuilderPy),
    ):  # fmt: skip
        yield


async def header_name_not_utf8(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
    with _python_record_builder():
        await _send(bootstrap, topic, partition, value, headers=[(_RawName("trace"), b"1")])


async def header_value_500kb(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
    big = [("blob", b"\x00\x1b" * 250_000)]
    await _send(bootstrap, topic, partition, value, headers=big, max_request_size=2_000_000)


async def headers_1000(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
    many = [(f"h{i}", str(i).encode()) for i in range(1000)]
    await _send(bootstrap, topic, partition, value, headers=many)


def transaction(commit: bool) -> Writer:
    async def write(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
        producer = broker.producer(bootstrap, transactional_id=f"fanout-test-{uuid.uuid4().hex}")
        await producer.start()
        try:
            await producer.begin_transaction()
            await producer.send_and_wait(topic, value, key=b"k", partition=partition)
            await (producer.commit_transaction() if commit else producer.abort_transaction())
        finally:
            await producer.stop()

    return write


async def gzip_bomb(bootstrap: str, topic: str, partition: int, value: bytes) -> None:
    """``value`` is ignored: BOMB_BYTES zeros, which gzip takes to about 100 KB."""
    del value
    await _send(bootstrap, topic, partition, bytes(BOMB_BYTES), compression_type="gzip",
                max_request_size=BOMB_BYTES + 1_000_000)  # fmt: skip


WRITERS: dict[str, Writer] = {
    "zstd-batch": compressed("zstd"),
    "lz4-batch": compressed("lz4"),
    "snappy-batch": compressed("snappy"),
    "gzip-batch": compressed("gzip"),
    "header-name-not-utf8": header_name_not_utf8,
    "header-value-500kb": header_value_500kb,
    "headers-1000": headers_1000,
    "transaction-committed": transaction(commit=True),
    "transaction-aborted": transaction(commit=False),
    "gzip-bomb": gzip_bomb,
}
