"""The services as the tests know them. Each service connects as its own PostgreSQL role and
writes its own schema, both named like the service (compose.yml's DATABASE_URL)."""

from __future__ import annotations

from services.registry import SERVICES

__all__ = ["SERVICES", "HANDLER_TABLE"]

# A table each service writes in a batch's transaction: locking it stalls a batch
# mid-transaction (audit's event row is its inbox row).
HANDLER_TABLE = {
    "analytics": "analytics.type_minute_counts",
    "billing": "billing.balances",
    "audit": "audit.inbox",
}
