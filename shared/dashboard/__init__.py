"""Per-service dashboards, the overview, and their JSON APIs (the read side).

Hooks called by the process factories; they only add web routes.
"""

from __future__ import annotations

from typing import Any


def register_service(app: Any, settings: Any, stats: Any, consumer: Any, engine: Any) -> None:
    """Add a consuming service's dashboard page and JSON API to its faust app."""


def register_publisher(app: Any, settings: Any, counters: Any) -> None:
    """Add the publisher's page and the fan-out overview to the publisher's faust app."""
