"""The services as the tests know them. Each service connects as its own PostgreSQL role and
writes its own schema, both named like the service (compose.yml's DATABASE_URL)."""

from __future__ import annotations

from services.registry import SERVICES

__all__ = ["SERVICES", "HANDLER_TABLE"]

# A table each service's handler writes after the inbox claim: locking it stalls a batch
# mid-transaction.
HANDLER_TABLE = {
    "analytics": "analytics.type_minute_counts",
    "billing": "billing.balances",
    "audit": "audit.events",
}
