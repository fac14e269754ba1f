"""The inflation bound (shared/inflate.py): every codec inflates a batch of valid size whole
and stops a bomb at MAX_BATCH_BYTES, with InflateLimitError (which the fetch step isolates)."""

from __future__ import annotations

import gzip

import cramjam
import pytest

from shared import inflate

BOMB = bytes(inflate.MAX_BATCH_BYTES + 1)
NORMAL = b'{"event_id": "3f847c7b-1e6c-4b4a-9a53-36e0dd2f7e19", "event_type": "buy"}' * 20_000


def _decoders() -> dict[str, tuple[object, object]]:
    inflate.install()
    from aiokafka.record._crecords import default_records as c

    return {
        "gzip": (c.gzip_decode, gzip.compress),
        "zstd": (c.zstd_decode, lambda b: bytes(cramjam.zstd.compress(b))),
        "lz4": (c.lz4_decode, lambda b: bytes(cramjam.lz4.compress(b))),
    }


@pytest.mark.parametrize("codec", ["gzip", "zstd", "lz4"])
def test_a_batch_inflates_whole_and_a_bomb_stops_at_the_bound(codec: str) -> None:
    decode, encode = _decoders()[codec]
    assert decode(encode(NORMAL)) == NORMAL  # type: ignore[operator]
    packed = encode(BOMB)  # type: ignore[operator]
    assert len(packed) < 1_000_000 < inflate.MAX_BATCH_BYTES  # the broker would take it
    with pytest.raises(inflate.InflateLimitError, match="inflates past"):
        decode(packed)  # type: ignore[operator]


def test_gzip_members_are_all_read() -> None:
    assert inflate.bounded_gzip_decode(gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"
