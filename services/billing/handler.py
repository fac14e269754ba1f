"""billing: a ledger entry per buy/sell event (buy debits, sell credits) and a balance per user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.billing.tables import balances, ledger
from shared.events import Delivery, Event

# Used when a buy/sell event carries no amount (the seed's events never do).
PRICES = {"buy": Decimal("10.00"), "sell": Decimal("8.00")}
ANONYMOUS = "anonymous"


def entry_amount(event: Event) -> Decimal:
    """Signed ledger amount: a buy debits the user, a sell credits them."""
    amount = event.amount if event.amount is not None else PRICES[event.event_type]
    return -amount if event.event_type == "buy" else amount


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], duplicates: Sequence[Delivery]
) -> None:
    del duplicates  # a redelivered purchase must not be charged twice
    entries = [
        {"event_id": d.event.event_id, "user_id": d.event.user_id or ANONYMOUS,
         "event_type": d.event.event_type, "amount": entry_amount(d.event),
         "event_time": d.event.occurred_at}
        for d in new if d.event.event_type in PRICES
    ]
    if not entries:
        return
    await conn.execute(insert(ledger), entries)  # batch order = offset order per partition
    totals: dict[str, list[Decimal | int]] = defaultdict(lambda: [Decimal(0), 0])
    for e in entries:
        totals[e["user_id"]][0] += e["amount"]
        totals[e["user_id"]][1] += 1
    stmt = insert(balances)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={"balance": balances.c.balance + stmt.excluded.balance,
              "entries": balances.c.entries + stmt.excluded.entries},
    )
    rows = [{"user_id": u, "balance": b, "entries": n} for u, (b, n) in sorted(totals.items())]
    await conn.execute(stmt, rows)
