"""billing service: `python -m services.billing.app` (compose.yml's command)."""

from __future__ import annotations

from services.billing.handler import handle
from services.billing.tables import SCHEMA, consumer
from shared.app import run_service
from shared.service import ServiceDefinition

DEFINITION = ServiceDefinition(SCHEMA, consumer, handle)

if __name__ == "__main__":
    run_service(DEFINITION)
