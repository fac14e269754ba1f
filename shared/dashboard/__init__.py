"""Per-service dashboards, the overview, and their JSON APIs (the read side).

Hooks called by the process factories; they only add web routes (and, for the publisher, a
one-second sampler of its sent counter). Pages poll the JSON API with fetch(); every asset is
served from static/ — the machines are offline.
"""

from __future__ import annotations

from typing import Any

from shared.dashboard.http import register_static
from shared.dashboard.panels import PANELS
from shared.dashboard.publisher_views import Overview, register_routes
from shared.dashboard.service_views import ServiceDashboard, register_common
from shared.dashboard.settings import OverviewSettings
from shared.db import async_engine


def register_service(app: Any, settings: Any, stats: Any, consumer: Any, engine: Any) -> None:
    """Add a consuming service's dashboard page and JSON API to its faust app.

    Reads use the service's own engine (its role can read its own schema); the pool's
    overflow connections keep a busy page from starving the consume loop."""
    dash = ServiceDashboard(settings, stats, consumer, engine)
    register_common(app, dash)
    panel = PANELS.get(settings.service_name)
    if panel is not None:
        panel(app, dash)
    register_static(app)


def register_publisher(app: Any, settings: Any, counters: Any) -> None:
    """Add the publisher's page and the fan-out overview to the publisher's faust app."""
    url = settings.reader_database_url
    engine = async_engine(url, pool_size=2) if url else None
    register_routes(app, Overview(settings, OverviewSettings().groups(), engine, counters))
    register_static(app)
