"""billing's panel: ledger totals (debits, credits, entries) and top balances (``/api/ledger``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncConnection

from services.billing import queries
from shared.dashboard.http import query_int
from shared.dashboard.panel import Panel
from shared.dashboard.service_views import ServiceDashboard


async def ledger_body(conn: AsyncConnection, top: int) -> dict[str, Any]:
    totals = await queries.ledger_totals(conn)
    return {
        "entries": totals.entries,
        "debits": totals.debits,
        "credits": totals.credits,
        "net": totals.net,
        "users": totals.users,
        "top": await queries.top_balances(conn, top),
    }


def routes(app: faust.App, dash: ServiceDashboard) -> None:
    @app.page("/api/ledger", name="api_ledger")
    async def ledger(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        top = query_int(request, "top", 10, 1, 100)
        return await dash.answer(
            web, lambda: dash.read(f"ledger:{top}", lambda c: ledger_body(c, top))
        )


PANEL = Panel(web=Path(__file__).parent / "web", routes=routes, recent=queries.recent)
