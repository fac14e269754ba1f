"""The form of a dead letter: escaped text, a bounded payload, a minimal form that always fits."""

from __future__ import annotations

import hashlib

from shared.dead_letters import ERROR_CHARS, HEADROOM, DeadLetter, payload_cap
from shared.events import MAX_VALUE_BYTES, Rejected
from shared.text import printable


def rejected(raw: bytes | None, error: str = "boom", reason: str = "invalid_json") -> Rejected:
    return Rejected("events", 2, 41, raw, reason, error)


def test_printable_escapes_what_a_store_or_terminal_cannot_take() -> None:
    hostile = "a\x00b\x1b[31m\r\n\u202e\ud800ok"
    assert printable(hostile) == "a\\x00b\\x1b[31m\\x0d\\x0a\\u202e\\ud800ok"
    assert printable("é ü 中 [bold]") == "é ü 中 [bold]"  # markup is the renderer's business
    assert printable("x" * 30, limit=10) == "x" * 10 + "… (20 more characters)"


def test_error_text_is_escaped_and_bounded() -> None:
    letter = DeadLetter.of(rejected(b"{}", error="bad \x00" + "y" * 5000), cap=1024)
    assert "\x00" not in letter.error and letter.error.startswith("bad \\x00")
    assert len(letter.error) <= ERROR_CHARS + 40


def test_payload_is_bounded_with_its_size_and_hash() -> None:
    raw = b"z" * 5000
    letter = DeadLetter.of(rejected(raw), cap=1000)
    assert letter.payload == raw[:1000] and letter.truncated
    assert (letter.size, letter.sha256) == (5000, hashlib.sha256(raw).digest())
    names = dict(letter.headers("billing"))
    assert names["fanout.payload.size"] == b"5000"
    assert names["fanout.payload.truncated"] == b"true"
    assert names["__connect.errors.offset"] == b"41"


def test_a_small_payload_is_kept_whole() -> None:
    letter = DeadLetter.of(rejected(b"{}"), cap=1000)
    assert letter.payload == b"{}" and not letter.truncated
    assert "fanout.payload.truncated" not in dict(letter.headers("audit"))


def test_a_tombstone_has_no_payload_size_or_hash() -> None:
    letter = DeadLetter.of(rejected(None, reason="null_value"), cap=1000)
    assert (letter.payload, letter.size, letter.sha256) == (None, None, None)


def test_the_minimal_form_keeps_position_reason_size_and_hash_and_says_why() -> None:
    full = DeadLetter.of(rejected(b"q" * 300), cap=1000)
    minimal = full.as_minimal(ValueError("no \x00 here"))
    assert minimal.payload is None
    assert (minimal.size, minimal.sha256, minimal.rejected) == (300, full.sha256, full.rejected)
    assert minimal.minimal == "ValueError: no \\x00 here"
    assert dict(minimal.headers("audit"))["fanout.minimal"] == b"ValueError: no \\x00 here"


def test_payload_cap_follows_the_topics_limit() -> None:
    assert payload_cap(1_048_588) == MAX_VALUE_BYTES  # every valid event fits whole
    assert payload_cap(20_000) == 20_000 - HEADROOM
    assert payload_cap(100) == 0
