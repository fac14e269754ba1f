"""billing service: `python -m services.billing.app` (compose.yml's command)."""

from __future__ import annotations

from services.billing import dashboard, tables
from services.billing.handler import handle
from services.registry import LAYOUT
from shared.app import run_service
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(tables.SCHEMA, tables.consumer, handle)

if __name__ == "__main__":
    run_service(DEFINITION, dashboard.PANEL, LAYOUT)
