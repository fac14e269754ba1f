"""Every dashboard route answers only its own host names, with headers that keep pages inert.

A web page the user visits can make the browser talk to 127.0.0.1 — directly (blind, for
simple requests) or through a DNS name it rebinds to 127.0.0.1, where the same-origin policy
would then let it *read* every answer. A rebound name arrives in the ``Host`` header: so every
request whose Host is not a loopback name, the configured bind address, or a name listed in
``WEB_ALLOWED_HOSTS`` is refused with 421 (Misdirected Request), GETs included. Responses carry
a Content-Security-Policy (the pages' own scripts only, no framing) and nosniff.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from shared.dashboard.http import BadParameter
from shared.local_only import LOOPBACK, hostname

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
WILDCARDS = {"0.0.0.0", "::", ""}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """Loopback names, the bind address when it names one host, and the names given."""
    names = set(LOOPBACK) | {h.strip().lower() for h in extra if h.strip()}
    if bind not in WILDCARDS:
        names.add(bind.lower())
    return frozenset(names)


def host_refusal(host: str, allowed: frozenset[str]) -> str | None:
    name = hostname(host)
    if name is None or name.lower() not in allowed:
        return f"Host {host!r} is not a name of this server (DNS rebinding is refused)"
    return None


def guard(
    allowed: frozenset[str],
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = host_refusal(request.headers.get("Host", ""), allowed)
        if refused:
            return web.json_response({"error": refused}, status=421, headers=HEADERS)
        try:
            response = await handler(request)
        except BadParameter as exc:
            return web.json_response({"error": str(exc)}, status=400, headers=HEADERS)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return check_host
