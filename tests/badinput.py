"""One example of every kind of bad input, with the reason code each must get."""

from __future__ import annotations

import orjson

GOOD = {
    "event_id": "3f847c7b-1e6c-4b4a-9a53-36e0dd2f7e19",
    "event_datetime": "2020-06-12-21-12-27",
    "event_type": "buy",
}


def bad(**change: object) -> bytes:
    doc = {**GOOD, **change}
    return orjson.dumps({k: v for k, v in doc.items() if v is not REMOVE})


REMOVE = object()

BAD_VALUES: dict[str, bytes | None] = {
    "invalid_json": b'{"event_id": ',
    "non_utf8": b'{"event_id": "\xff\xfe"}',
    "not_an_object": b'["buy"]',
    "missing_field": bad(event_type=REMOVE),
    "invalid_uuid": bad(event_id="not-a-uuid"),
    "invalid_datetime": bad(event_datetime="yesterday"),
    "unknown_event_type": bad(event_type="jump"),
    "wrong_type": bad(user_id=42),
    "invalid_amount": bad(amount="-3.50"),
    "oversize": bad(user_id="x" * 70_000),
    "null_value": None,
}
