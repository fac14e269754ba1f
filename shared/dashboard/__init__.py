"""The dashboard kit: a consuming service's page and JSON API, the shared page layout
(Jinja2 templates, static assets, uPlot vendored: the machines are offline) and web helpers.

Each service adds its own panel (its ``dashboard.py`` and ``web/``); the publisher serves its
page and the fan-out overview from ``services/publisher/``.
"""

from __future__ import annotations

from typing import Any

from shared.dashboard.http import register_static
from shared.dashboard.service_views import ServiceDashboard, register_common
from shared.service import Layout, ServiceDefinition


def register_service(
    app: Any,
    settings: Any,
    stats: Any,
    consumer: Any,
    engine: Any,
    definition: ServiceDefinition,
    layout: Layout,
) -> None:
    """Add a consuming service's dashboard page and JSON API to its faust app.

    Reads use the service's role (it can read its own schema) on ``engine``, a pool of the
    dashboards' own with a statement timeout (shared/db.py ``read_engine``): a busy page never
    takes the consume loop's connections."""
    dash = ServiceDashboard(settings, stats, consumer, engine, definition, layout)
    register_common(app, dash)
    definition.panel.routes(app, dash)
    register_static(app, definition.panel.web)
