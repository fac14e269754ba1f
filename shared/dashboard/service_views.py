"""A consuming service's dashboard: its page at ``/`` and the JSON API every panel polls.

``/api/summary``, ``/api/partitions``, ``/api/throughput``, ``/api/recent``; each service's
own panel is its ``dashboard.py`` (routes, through :meth:`ServiceDashboard.answer`) and
``web/``. Numbers come from the service's schema (the truth that survives restarts) and from
the broker (log-end and committed offsets read back, as
``kafka-consumer-groups --describe`` shows them); in-memory stats add what only this process
knows (database write status, batches, partitions it owns, throughput).
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared import readside
from shared.dashboard.http import (
    Cached,
    Pages,
    ReadFailed,
    guarded,
    json_response,
    nav,
    query_int,
)
from shared.dashboard.layout import Layout
from shared.dashboard.partition_rows import partition_rows
from shared.readside import PartitionProgress
from shared.reconcile import BrokerFacts, read_around
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings
from shared.stats import ServiceStats

THROUGHPUT_WINDOW_S = 300


@dataclass(frozen=True)
class Snapshot:
    progress: dict[int, PartitionProgress] | None  # None: the database could not be read
    db_error: str | None
    facts: BrokerFacts
    stored: dict[int, int] | None = None  # the group's offsets rows (database mode)


Read = Callable[[AsyncConnection], Awaitable[Any]]
# A service's last persisted events, its own columns: (connection, limit) → rows.
RecentRows = Callable[[AsyncConnection, int], Awaitable[list[dict[str, Any]]]]
DbSide = tuple[dict[int, PartitionProgress], dict[int, int]]  # progress, offsets rows


@dataclass
class ServiceDashboard:
    settings: ServiceSettings
    stats: ServiceStats
    engine: AsyncEngine
    definition: ServiceDefinition
    layout: Layout
    web: Path  # its panel's folder (panel.html, panel.js)
    recent_rows: RecentRows
    cache: Cached = field(default_factory=Cached)

    @property
    def name(self) -> str:
        return self.settings.service_name

    @property
    def ports(self) -> dict[str, int]:
        return self.layout.ports(self.name, self.settings.web_port)

    async def read(self, key: str | None, read: Read) -> Any:
        """One read-only query set, with a deadline; cached under ``key`` (None: fresh)."""

        async def load() -> Any:
            async with readside.read_only(self.engine) as conn:
                return await read(conn)

        if key is None:
            return await guarded(load)
        return await self.cache.get(key, lambda: guarded(load))

    @staticmethod
    async def answer(
        web: faust.web.Web, produce: Callable[[], Awaitable[Any]]
    ) -> faust.web.Response:
        """200 with what ``produce`` returns, or 503 with why the database could not answer."""
        try:
            return json_response(web, await produce())
        except ReadFailed as exc:
            return json_response(web, {"error": str(exc)}, status=503)

    async def snapshot(self) -> Snapshot:
        """Database first, then broker, in one cached unit: everything persisted was published
        before the log-end offsets are read, so a busy topic never shows persisted > published."""
        return await self.cache.get("snapshot", self._read_snapshot)

    async def _read_snapshot(self) -> Snapshot:
        s = self.settings

        async def load() -> DbSide:
            async with readside.read_only(self.engine) as conn:
                progress = await readside.read_progress(conn, self.name, s.events_topic)
                stored = await readside.read_stored(conn, self.name, s.group, s.events_topic)
                return progress, stored

        async def read() -> tuple[DbSide | None, str | None]:
            try:
                return await guarded(load), None
            except ReadFailed as exc:
                return None, str(exc)

        # Committed, then the database, then log ends: one reading never contradicts itself.
        facts, (db, db_error) = await read_around(
            ",".join(s.bootstrap_list), s.events_topic, [s.group], read
        )
        progress, stored = db if db is not None else (None, None)
        return Snapshot(progress, db_error, facts, stored)

    async def summary(self) -> dict[str, Any]:
        snap = await self.snapshot()
        progress, db_error, facts = snap.progress, snap.db_error, snap.facts
        counts = None
        if progress is not None:
            rows = progress.values()
            counts = {
                k: sum(getattr(r, k) for r in rows) for k in ("processed", "duplicates", "invalid")
            }
        parts = partition_rows(
            facts, self.settings.group, progress, self.stats.assigned, snap.stored
        )
        return {
            "service": self.name,
            "group": self.settings.group,
            "offset_store": self.settings.offset_store,
            "topic": self.settings.events_topic,
            "pid": os.getpid(),
            "ports": self.ports,
            "counts": counts,
            "lag": _total(parts, "lag"),
            "window": _total(parts, "window"),
            "time_lag_s": max(
                (p["time_lag_s"] for p in parts if p["time_lag_s"] is not None), default=None
            ),
            "db": {
                "up": self.stats.db_up and db_error is None,
                "writes_ok": self.stats.db_up,
                "last_write_error": self.stats.last_db_error,
                "read_error": db_error,
            },
            "broker": {"up": facts.reachable, "error": facts.error},
            "consumer": {"assigned": sorted(self.stats.assigned), "batches": self.stats.batches},
            "generated_at": readside.utcnow(),
        }

    async def partitions(self) -> dict[str, Any]:
        snap = await self.snapshot()
        rows = partition_rows(
            snap.facts, self.settings.group, snap.progress, self.stats.assigned, snap.stored
        )
        return {
            "offset_store": self.settings.offset_store,
            "rows": rows,
            "broker_error": snap.facts.error,
            "db_error": snap.db_error,
        }

    def throughput(self) -> dict[str, Any]:
        """Events persisted per second over the last few minutes, zeros included (a stall
        must show as a drop, not as a gap the chart bridges)."""
        last = int(time.time()) - 1  # the current second is still filling: it would dip
        per_second = dict.fromkeys(range(last - THROUGHPUT_WINDOW_S + 1, last + 1), 0)
        for at, events in list(self.stats.history):
            if int(at) in per_second:
                per_second[int(at)] += events
        return {
            "t": list(per_second),
            "events": list(per_second.values()),
            "window_s": THROUGHPUT_WINDOW_S,
            "total": sum(per_second.values()),
        }

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        recent = self.recent_rows
        return await self.read(f"recent:{limit}", lambda conn: recent(conn, limit))  # type: ignore[no-any-return]


def _total(rows: list[dict[str, Any]], key: str) -> int | None:
    values = [r[key] for r in rows]
    return None if not values or any(v is None for v in values) else sum(values)


def register_common(app: faust.App, dash: ServiceDashboard) -> None:
    pages = Pages(dash.web)

    @app.page("/", name="dashboard_page")
    async def page(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return pages.response(
            web,
            "service.html",
            title=dash.name,
            page="service",
            nav=nav(dash.ports),
            service=dash.name,
            group=dash.settings.group,
        )

    @app.page("/api/summary", name="api_summary")
    async def summary(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return json_response(web, await dash.summary())

    @app.page("/api/partitions", name="api_partitions")
    async def partitions(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return json_response(web, await dash.partitions())

    @app.page("/api/throughput", name="api_throughput")
    async def throughput(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return json_response(web, dash.throughput())

    @app.page("/api/recent", name="api_recent")
    async def recent(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        limit = query_int(request, "limit", 20, 1, 200)
        return await dash.answer(web, lambda: _rows(dash.recent(limit)))


async def _rows(rows: Awaitable[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"rows": await rows}
