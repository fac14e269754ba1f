"""audit's panel: one event's every delivery (``/api/events/{event_id}``) and the redelivered
events (``/api/events``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncConnection

from services.audit import queries
from shared.dashboard.http import ReadFailed, json_response, query_int
from shared.dashboard.panel import Panel
from shared.dashboard.service_views import ServiceDashboard


async def event_body(conn: AsyncConnection, event_id: uuid.UUID) -> dict[str, Any] | None:
    row = await queries.event(conn, event_id)
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
        for n, d in enumerate(await queries.event_deliveries(conn, event_id), start=1)
    ]
    return {**row, "deliveries": deliveries}


async def redelivered_body(conn: AsyncConnection, limit: int) -> dict[str, Any]:
    events, redeliveries = await queries.redelivery_totals(conn)
    return {
        "events": events,
        "redeliveries": redeliveries,
        "rows": await queries.redelivered_events(conn, limit),
    }


def routes(app: faust.App, dash: ServiceDashboard) -> None:
    @app.page("/api/events", name="api_redelivered")
    async def redelivered(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        limit = query_int(request, "limit", 10, 1, 100)
        key = f"redelivered:{limit}"
        return await dash.answer(web, lambda: dash.read(key, lambda c: redelivered_body(c, limit)))

    @app.page("/api/events/{event_id}", name="api_event")
    async def event(
        web: faust.web.Web, request: faust.web.Request, event_id: str
    ) -> faust.web.Response:
        try:
            wanted = uuid.UUID(event_id.strip())
        except ValueError:
            return json_response(web, {"error": f"not an event id: {event_id!r}"}, status=400)
        try:
            body = await dash.read(None, lambda c: event_body(c, wanted))
        except ReadFailed as exc:
            return json_response(web, {"error": str(exc)}, status=503)
        if body is None:
            return json_response(web, {"error": f"audit has no event {wanted}"}, status=404)
        return json_response(web, body)


PANEL = Panel(web=Path(__file__).parent / "web", routes=routes, recent=queries.recent)
