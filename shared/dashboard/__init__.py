"""The dashboard kit: a consuming service's page and JSON API, the shared page layout
(Jinja2 templates, static assets, uPlot vendored: the machines are offline) and web helpers.

Each service adds its own panel (its ``dashboard.py`` and ``web/``: a ``Panel``); the publisher
serves its page and the fan-out overview from ``services/publisher/``.
"""

from __future__ import annotations

import faust
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.dashboard.http import register_static
from shared.dashboard.layout import Layout
from shared.dashboard.panel import Panel
from shared.dashboard.service_views import ServiceDashboard, register_common
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings
from shared.stats import ServiceStats


def register_service(
    app: faust.App,
    settings: ServiceSettings,
    stats: ServiceStats,
    engine: AsyncEngine,
    definition: ServiceDefinition,
    panel: Panel,
    layout: Layout,
) -> None:
    """Add a consuming service's dashboard page and JSON API to its faust app.

    Reads use the service's role (it can read its own schema) on ``engine``, a pool of the
    dashboards' own with a statement timeout (shared/db.py ``read_engine``): a busy page never
    takes the consume loop's connections."""
    dash = ServiceDashboard(settings, stats, engine, definition, layout, panel.web, panel.recent)
    register_common(app, dash)
    panel.routes(app, dash)
    register_static(app, panel.web)
