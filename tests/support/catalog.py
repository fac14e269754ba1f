"""The services as the tests know them. Each service connects as its own PostgreSQL role and
writes its own schema, both named like the service (compose.yml's DATABASE_URL)."""

from __future__ import annotations

from services.registry import SERVICES

__all__ = ["SERVICES", "STALL_TABLE"]

# A table each service writes in a batch's transaction after its inbox rows: locking it
# stalls a batch mid-transaction with rows written (a transaction id to follow). Audit's
# handler writes nothing for a first delivery (its event row is its inbox row): its
# progress row comes next.
STALL_TABLE = {
    "analytics": "analytics.type_minute_counts",
    "billing": "billing.balances",
    "audit": "audit.progress",
}
