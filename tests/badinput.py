"""Hostile input, by the path it can break, with the reason code each value must get.

A value can break decoding, validation, the error message written about it, the store, the
dead-letter send, reading it back, or rendering it. The corpus grows by kind (one entry per way
of breaking a path), not by instance. Paths that need more than a value — a compressed
oversize value (the dead-letter send), rows already in the database (read back) — have
integration tests of their own in tests/integration/test_hostile_input.py.
"""

from __future__ import annotations

import orjson

GOOD = {
    "event_id": "3f847c7b-1e6c-4b4a-9a53-36e0dd2f7e19",
    "event_datetime": "2020-06-12-21-12-27",
    "event_type": "buy",
}
REMOVE = object()


def bad(**change: object) -> bytes:
    doc = {**GOOD, **change}
    return orjson.dumps({k: v for k, v in doc.items() if v is not REMOVE})


# One of each reason code: what the README's contract promises.
BAD_VALUES: dict[str, bytes | None] = {
    "invalid_json": b'{"event_id": ',
    "non_utf8": b'{"event_id": "\xff\xfe"}',
    "not_an_object": b'["buy"]',
    "missing_field": bad(event_type=REMOVE),
    "invalid_uuid": bad(event_id="not-a-uuid"),
    "invalid_datetime": bad(event_datetime="yesterday"),
    "unknown_event_type": bad(event_type="jump"),
    "wrong_type": bad(schema_version="one"),
    "invalid_amount": bad(amount="-3.50"),
    "invalid_user_id": bad(user_id="tab\tbed"),
    "oversize": bad(user_id="x" * 70_000),
    "null_value": None,
}

MARKUP = "[/x][bold]\x1b[31m<script>alert(1)</script>\u202e"

# Deeper than any supported interpreter lets msgspec recurse (3.11 stops at 999 levels, 3.12
# at 1,499, 3.13 at 10,000: its C recursion limit), within MAX_VALUE_BYTES (64 KiB).
DEEP = 20_000

# id -> (reason, value): the ways each path can break.
HOSTILE: dict[str, tuple[str, bytes | None]] = {
    # decode
    "deep-nesting": ("not_an_object", b"[" * DEEP + b"]" * DEEP),
    "deep-nesting-ignored-field": (
        "invalid_json",
        bad()[:-1] + b',"x":' + b"[" * DEEP + b"]" * DEEP + b"}",
    ),
    "non-utf8-ignored-field": ("non_utf8", bad()[:-1] + b',"x":"\xff"}'),
    "bom-prefix": ("invalid_json", b"\xef\xbb\xbf" + bad()),
    "lone-surrogate": ("invalid_json", b'{"event_id": "\\ud800"}'),
    "raw-nul-byte": ("invalid_json", bad()[:-1] + b"\x00}"),
    # render: what a terminal or a rich table would obey if printed as is
    "terminal-escapes": ("invalid_json", b"\x1b[2J\x1b[31m[/x][bold]\x07 not json"),
    # validate
    "datetime-as-number": ("invalid_datetime", bad(event_datetime=253402300800)),
    "amount-infinite": ("invalid_amount", bad()[:-1] + b',"amount":1e400}'),
    "user-id-nul": ("invalid_user_id", bad(user_id="bad\x00user")),
    "user-id-too-long": ("invalid_user_id", bad(user_id="u" * 129)),
    # error text: the message echoes the input
    "nul-in-event-id": ("invalid_uuid", bad(event_id="3f847c7b-1e6c-4b4a-9a53-36e0dd2f7e1\x00")),
    "nul-in-datetime": ("invalid_datetime", bad(event_datetime="2020-06-12-21-12-2\x00")),
    "markup-in-type": ("unknown_event_type", bad(event_type=MARKUP)),
    "huge-error-text": ("unknown_event_type", bad(event_type="j" * 60_000)),
    # store / read back: an instant the database takes and the driver cannot read back
    "year-10000-in-utc": ("invalid_datetime", bad(event_datetime="9999-12-31T23:59:59-14:00")),
    "year-0-in-utc": ("invalid_datetime", bad(event_datetime="0001-01-01T00:00:00+14:00")),
    "far-future": ("invalid_datetime", bad(event_datetime="2999-01-01T00:00:00Z")),
}

# The fetch path: what the Kafka client must decode before any value reaches the event decoder
# (a codec, a header, a transaction, a batch's inflated size). kind -> what every service must
# make of the valid event it carries: "applied" once, "undecodable_batch" (dead-lettered in
# minimal form, its partition moving on), or "nowhere" (its transaction was aborted). How each
# kind is written: tests/support/producers.py.
FETCH: dict[str, str] = {
    "zstd-batch": "applied",
    "lz4-batch": "applied",
    "snappy-batch": "applied",
    "gzip-batch": "applied",
    "header-name-not-utf8": "undecodable_batch",
    "header-value-500kb": "applied",
    "headers-1000": "applied",
    "transaction-committed": "applied",
    "transaction-aborted": "nowhere",
    "gzip-bomb": "undecodable_batch",
}
