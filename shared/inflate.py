"""A bound on what one record batch may inflate to, for the codec where aiokafka has none.

A gzip batch the broker takes (at most ``max.message.bytes``, 1 MiB by default) can inflate a
thousandfold: a few hundred KB of zeros become gigabytes in one service's memory, and the
service dies at the same offset on every restart. aiokafka's ``gzip_decode`` reads without a
limit; this one stops at ``MAX_BATCH_BYTES`` and raises, which the fetch step
(``shared.fetch``) isolates as an undecodable batch like any other. zstd and lz4 are inflated
into a buffer of bounded size; snappy (at most ~21x by its format) whole, then checked.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from types import ModuleType

import cramjam
from aiokafka import codec
from aiokafka.errors import KafkaError
from aiokafka.record import default_records, legacy_records
from aiokafka.record._crecords import default_records as c_default
from aiokafka.record._crecords import legacy_records as c_legacy

# Far above any batch of valid events (at most 64 KiB each, 1 MiB compressed per batch),
# far below what hurts a 150 MB service.
MAX_BATCH_BYTES = 64 * 1024 * 1024
_MODULES: tuple[ModuleType, ...] = (default_records, legacy_records, c_default, c_legacy)


class InflateLimitError(KafkaError):
    """A compressed record batch inflates past MAX_BATCH_BYTES."""


def bounded_gzip_decode(payload: bytes, limit: int = MAX_BATCH_BYTES) -> bytes:
    """gzip, member after member (a producer may concatenate them), never past ``limit``."""
    out, data = bytearray(), memoryview(payload)
    while data:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        out += inflater.decompress(data, limit + 1 - len(out))
        if len(out) > limit or inflater.unconsumed_tail:
            raise InflateLimitError(f"gzip batch inflates past {limit} bytes")
        if not inflater.eof:
            raise InflateLimitError("gzip batch is truncated")
        data = memoryview(inflater.unused_data)
    return bytes(out)


def _checked(decode: Callable[[bytes], bytes], name: str) -> Callable[[bytes], bytes]:
    """snappy: its format caps a batch's inflation near 21x, so decode whole, then check."""

    def decode_checked(payload: bytes) -> bytes:
        out = decode(payload)
        if len(out) > MAX_BATCH_BYTES:
            raise InflateLimitError(f"{name} batch inflates past {MAX_BATCH_BYTES} bytes")
        return out

    return decode_checked


def _into(decode_into: Callable[[bytes, bytearray], int], name: str) -> Callable[[bytes], bytes]:
    """zstd and lz4 (frames) into a buffer of bounded size: cramjam refuses to write past it.
    The buffer starts at 8x the payload (most batches fit at once) and grows 8x a try, never
    past MAX_BATCH_BYTES."""

    def decode_bounded(payload: bytes, limit: int = MAX_BATCH_BYTES) -> bytes:
        size = max(8 * len(payload), 64 * 1024)
        while True:
            out = bytearray(min(size, limit + 1))
            try:
                n = decode_into(payload, out)
            except cramjam.DecompressionError as exc:
                if len(out) > limit:
                    raise InflateLimitError(f"{name} batch inflates past {limit} bytes") from exc
                size *= 8
                continue
            if n > limit:
                raise InflateLimitError(f"{name} batch inflates past {limit} bytes")
            return bytes(memoryview(out)[:n])

    return decode_bounded


def install() -> None:
    """Put the bounded decoders where aiokafka's record parsers (C and Python) look them up;
    idempotent."""
    decoders = {
        "gzip_decode": bounded_gzip_decode,
        "snappy_decode": _checked(codec.snappy_decode, "snappy"),
        "lz4_decode": _into(cramjam.lz4.decompress_into, "lz4"),
        "zstd_decode": _into(cramjam.zstd.decompress_into, "zstd"),
    }
    for module in _MODULES:
        for name, decode in decoders.items():
            if hasattr(module, name):
                setattr(module, name, decode)
