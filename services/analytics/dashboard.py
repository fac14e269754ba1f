"""analytics' panel: counts per event type per minute (``/api/minutes``) and totals per type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncConnection

from services.analytics import queries
from shared.dashboard.http import query_int
from shared.dashboard.panel import Panel
from shared.dashboard.service_views import ServiceDashboard
from shared.events import EVENT_TYPES


async def minutes_body(conn: AsyncConnection, minutes: int) -> dict[str, Any]:
    rows = await queries.minute_counts(conn, minutes)
    axis = sorted({m for m, _, _ in rows})
    index = {m: i for i, m in enumerate(axis)}
    series = {t: [0] * len(axis) for t in EVENT_TYPES}
    for minute, kind, count in rows:
        series.setdefault(kind, [0] * len(axis))[index[minute]] = count
    return {"minutes": axis, "series": series, "totals": await queries.type_totals(conn)}


def routes(app: faust.App, dash: ServiceDashboard) -> None:
    @app.page("/api/minutes", name="api_minutes")
    async def minutes(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        n = query_int(request, "minutes", 30, 1, 24 * 60)
        return await dash.answer(
            web, lambda: dash.read(f"minutes:{n}", lambda c: minutes_body(c, n))
        )


PANEL = Panel(web=Path(__file__).parent / "web", routes=routes, recent=queries.recent)
