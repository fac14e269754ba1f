"""Each service's own panel and its JSON API.

- analytics: ``/api/minutes`` — counts per event type per minute, and totals per type;
- billing: ``/api/ledger`` — ledger totals (debits, credits, entries) and top balances;
- audit: ``/api/events/{event_id}`` — one event's deliveries; ``/api/events`` — redelivered ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import readside
from shared.dashboard.http import ReadFailed, guarded, json_response, query_int
from shared.dashboard.service_views import ServiceDashboard
from shared.events import EVENT_TYPES

Read = Callable[[AsyncConnection], Awaitable[Any]]


async def _read(dash: ServiceDashboard, key: str | None, read: Read) -> Any:
    """One read-only query set; cached under ``key`` (None: always fresh)."""

    async def load() -> Any:
        async with readside.read_only(dash.engine) as conn:
            return await read(conn)

    if key is None:
        return await guarded(load)
    return await dash.cache.get(key, lambda: guarded(load))


async def _answer(web: faust.web.Web, produce: Callable[[], Awaitable[Any]]) -> faust.web.Response:
    try:
        return json_response(web, await produce())
    except ReadFailed as exc:
        return json_response(web, {"error": str(exc)}, status=503)


async def minutes_body(conn: AsyncConnection, minutes: int) -> dict[str, Any]:
    rows = await readside.minute_counts(conn, minutes)
    axis = sorted({m for m, _, _ in rows})
    index = {m: i for i, m in enumerate(axis)}
    series = {t: [0] * len(axis) for t in EVENT_TYPES}
    for minute, kind, count in rows:
        series.setdefault(kind, [0] * len(axis))[index[minute]] = count
    return {"minutes": axis, "series": series, "totals": await readside.type_totals(conn)}


async def ledger_body(conn: AsyncConnection, top: int) -> dict[str, Any]:
    totals = await readside.ledger_totals(conn)
    return {
        "entries": totals.entries,
        "debits": totals.debits,
        "credits": totals.credits,
        "net": totals.net,
        "users": totals.users,
        "top": await readside.top_balances(conn, top),
    }


async def audit_body(conn: AsyncConnection, event_id: uuid.UUID) -> dict[str, Any] | None:
    row = await readside.audit_event(conn, event_id)
    if row is None:
        return None
    deliveries = [
        {
            "n": n,
            "at": d["delivered_at"],
            "partition": d["partition"],
            "offset": d["kafka_offset"],
            "what": "applied" if d["applied"] else "redelivered: absorbed by the inbox",
        }
        for n, d in enumerate(await readside.audit_deliveries(conn, event_id), start=1)
    ]
    return {**row, "deliveries": deliveries}


def register_analytics(app: faust.App, dash: ServiceDashboard) -> None:
    @app.page("/api/minutes", name="api_minutes")
    async def minutes(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        n = query_int(request, "minutes", 30, 1, 24 * 60)
        return await _answer(web, lambda: _read(dash, f"minutes:{n}", lambda c: minutes_body(c, n)))


def register_billing(app: faust.App, dash: ServiceDashboard) -> None:
    @app.page("/api/ledger", name="api_ledger")
    async def ledger(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        top = query_int(request, "top", 10, 1, 100)
        return await _answer(
            web, lambda: _read(dash, f"ledger:{top}", lambda c: ledger_body(c, top))
        )


def register_audit(app: faust.App, dash: ServiceDashboard) -> None:
    @app.page("/api/events", name="api_redelivered")
    async def redelivered(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        limit = query_int(request, "limit", 10, 1, 100)
        return await _answer(
            web, lambda: _read(dash, f"redelivered:{limit}", lambda c: redelivered_body(c, limit))
        )

    @app.page("/api/events/{event_id}", name="api_event")
    async def event(
        web: faust.web.Web, request: faust.web.Request, event_id: str
    ) -> faust.web.Response:
        try:
            wanted = uuid.UUID(event_id.strip())
        except ValueError:
            return json_response(web, {"error": f"not an event id: {event_id!r}"}, status=400)
        try:
            body = await _read(dash, None, lambda c: audit_body(c, wanted))
        except ReadFailed as exc:
            return json_response(web, {"error": str(exc)}, status=503)
        if body is None:
            return json_response(web, {"error": f"audit has no event {wanted}"}, status=404)
        return json_response(web, body)


async def redelivered_body(conn: AsyncConnection, limit: int) -> dict[str, Any]:
    events, redeliveries = await readside.redelivery_totals(conn)
    return {
        "events": events,
        "redeliveries": redeliveries,
        "rows": await readside.redelivered_events(conn, limit),
    }


PANELS: dict[str, Callable[[faust.App, ServiceDashboard], None]] = {
    "analytics": register_analytics,
    "billing": register_billing,
    "audit": register_audit,
}
