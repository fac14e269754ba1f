"""Guard for state-changing endpoints (``POST /crash``, ``/pause``, ``/resume``, a scenario's
Run): only a deliberate local client.

Any web page the user visits can send a *simple* cross-site request (a form POST) to
127.0.0.1. A request with a custom header is not simple: a browser must first ask the server
(CORS preflight), and ours never says yes. Host and Origin are checked too, so a page reaching
the port through a rebound DNS name or from another origin is refused as well.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

ACTION_HEADER = "X-Fanout-Action"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def hostname(netloc: str) -> str | None:
    try:
        return urlsplit(f"//{netloc}").hostname
    except ValueError:
        return None


def refusal(headers: Mapping[str, str], action: str) -> str | None:
    """Why this request may not perform ``action`` (None: it may)."""
    if headers.get(ACTION_HEADER) != action:
        return f"missing header {ACTION_HEADER}: {action} (cross-site requests are refused)"
    host = headers.get("Host", "")
    if hostname(host) not in LOOPBACK:
        return f"Host {host!r} is not a loopback name"
    origin = headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.hostname not in LOOPBACK or parts.netloc != host:
            return f"Origin {origin!r} is not this server"
    return None


def crash_request(port: int) -> urllib.request.Request:
    """What `./fanout crash SERVICE` sends: POST /crash with the action header."""
    return urllib.request.Request(
        f"http://127.0.0.1:{port}/crash", method="POST", headers={ACTION_HEADER: "crash"}
    )


def action_request(port: int, action: str) -> urllib.request.Request:
    """POST /ACTION with its action header (pause, resume)."""
    return urllib.request.Request(
        f"http://127.0.0.1:{port}/{action}", method="POST", headers={ACTION_HEADER: action}
    )
