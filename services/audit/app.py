"""audit service: `python -m services.audit.app` (compose.yml's command)."""

from __future__ import annotations

from services.audit import dashboard, tables
from services.audit.handler import CARRIED, handle
from services.registry import LAYOUT
from shared.app import run_service
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(
    tables.SCHEMA, tables.consumer, handle, retained=tables.RETAINED, carried=CARRIED
)

if __name__ == "__main__":
    run_service(DEFINITION, dashboard.PANEL, LAYOUT)
