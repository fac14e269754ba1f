"""A service's own part of its dashboard: ``web/`` holds ``panel.html`` (included in the kit's
service page) and ``panel.js``; ``routes`` adds its JSON API on the page's ``ServiceDashboard``;
``recent`` reads the last events persisted, with the service's own columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faust

from shared.dashboard.service_views import RecentRows, ServiceDashboard


@dataclass(frozen=True)
class Panel:
    web: Path
    routes: Callable[[faust.App, ServiceDashboard], None]
    recent: RecentRows
