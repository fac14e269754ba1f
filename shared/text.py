"""Text that every store and screen can take, whatever an input put in it.

PostgreSQL ``text`` rejects NUL and psycopg cannot encode a lone surrogate; a terminal obeys
escape sequences; a log line ends at a newline. Error messages echo their input, so anything
derived from an event is passed through :func:`printable` before it is stored, sent or shown.
"""

from __future__ import annotations

import re

# C0 and C1 controls (NUL, ESC, CR, LF, ...), DEL, and the invisible Unicode controls that
# reorder or break lines on a screen (bidi overrides and isolates, line/paragraph separators).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str, limit: int = 1000) -> str:
    """``text`` with every unsafe character escaped (``\\x00``, ``\\u202e``), at most ``limit``
    characters (a marker says how many were cut)."""
    if not text.isprintable():
        # Lone surrogates cannot be encoded: backslashreplace turns them into \udXXX text.
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        text = _UNSAFE.sub(_escape, text)
    if len(text) > limit:
        cut = len(text) - limit
        text = f"{text[:limit]}… ({cut} more characters)"
    return text
