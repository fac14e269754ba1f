"""analytics service: `python -m services.analytics.app` (compose.yml's command)."""

from __future__ import annotations

from services.analytics import dashboard, tables
from services.analytics.handler import handle
from services.registry import LAYOUT
from shared.app import run_service
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(tables.SCHEMA, tables.consumer, handle)

if __name__ == "__main__":
    run_service(DEFINITION, dashboard.PANEL, LAYOUT)
