"""billing: a ledger entry per buy/sell event (buy debits, sell credits) and a balance per user."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncConnection

from services.billing.tables import balances, ledger
from shared.bulk import DirectCopy, Statement, arrays, bulk_insert
from shared.events import Delivery, Event

# Used when a buy/sell event carries no amount (the seed's events never do).
PRICES = {"buy": Decimal("10.00"), "sell": Decimal("8.00")}
ANONYMOUS = "anonymous"

# Straight in, in order: the inbox let only new events through, and seq follows the rows'
# order, so offset order within each partition (per-user order).
LEDGER_INSERT = DirectCopy(ledger, ("event_id", "user_id", "event_type", "amount", "event_time"))
_stmt = bulk_insert(balances, ("user_id", "balance", "entries"))
BALANCE_UPSERT = Statement(
    _stmt.on_conflict_do_update(
        index_elements=["user_id"],
        set_={
            "balance": balances.c.balance + _stmt.excluded.balance,
            "entries": balances.c.entries + _stmt.excluded.entries,
        },
    )
)


def entry_amount(event: Event) -> Decimal:
    """Signed ledger amount: a buy debits the user, a sell credits them."""
    amount = event.amount if event.amount is not None else PRICES[event.event_type]
    return -amount if event.event_type == "buy" else amount


async def handle(
    conn: AsyncConnection, new: Sequence[Delivery], absorbed: Sequence[Delivery]
) -> None:
    del absorbed  # a redelivered purchase must not be charged twice
    billable = [d.event for d in new if d.event.event_type in PRICES]
    if not billable:
        return
    users = [e.user_id or ANONYMOUS for e in billable]
    amounts = [entry_amount(e) for e in billable]
    rows = (
        (e.event_id, user, e.event_type, amount, e.occurred_at)
        for e, user, amount in zip(billable, users, amounts, strict=True)
    )
    await LEDGER_INSERT.execute(conn, rows)
    totals: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for user, amount in zip(users, amounts, strict=True):
        totals[user][0] += amount
        totals[user][1] += 1
    keys = sorted(totals)  # one lock order for concurrent writers
    await BALANCE_UPSERT.execute(
        conn,
        arrays(
            user_id=keys,
            balance=(totals[u][0] for u in keys),
            entries=(int(totals[u][1]) for u in keys),
        ),
    )
