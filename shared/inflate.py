"""A bound on what one record batch may inflate to, for the codec where aiokafka has none.

A gzip batch the broker takes (at most ``max.message.bytes``, 1 MiB by default) can inflate a
thousandfold: a few hundred KB of zeros become gigabytes in one service's memory, and the
service dies at the same offset on every restart. aiokafka's ``gzip_decode`` reads without a
limit; this one stops at ``MAX_BATCH_BYTES`` and raises, which the fetch step
(``shared.fetch``) isolates as an undecodable batch like any other. snappy, lz4 and zstd go
through cramjam whole (it takes no output limit); their size is checked after the fact.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from types import ModuleType

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
    def decode_checked(payload: bytes) -> bytes:
        out = decode(payload)
        if len(out) > MAX_BATCH_BYTES:
            raise InflateLimitError(f"{name} batch inflates past {MAX_BATCH_BYTES} bytes")
        return out

    decode_checked.__wrapped__ = decode  # type: ignore[attr-defined]
    return decode_checked


def install() -> None:
    """Put the bounded decoders where aiokafka's record parsers (C and Python) look them up;
    idempotent."""
    decoders = {
        "gzip_decode": bounded_gzip_decode,
        "snappy_decode": _checked(codec.snappy_decode, "snappy"),
        "lz4_decode": _checked(codec.lz4_decode, "lz4"),
        "zstd_decode": _checked(codec.zstd_decode, "zstd"),
    }
    for module in _MODULES:
        for name, decode in decoders.items():
            if hasattr(module, name):
                setattr(module, name, decode)
