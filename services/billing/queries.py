"""billing's read side: ledger totals, top balances, recent events with their ledger entry."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.billing.tables import balances, inbox, ledger
from shared.readside import recent_rows


async def recent(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    columns = (ledger.c.user_id, ledger.c.event_type, ledger.c.amount)
    joined = inbox.outerjoin(ledger, ledger.c.event_id == inbox.c.event_id)
    return await recent_rows(conn, inbox, limit, columns, joined)


@dataclass(frozen=True)
class LedgerTotals:
    entries: int
    debits: Decimal  # sum of buys, negative
    credits: Decimal  # sum of sells, positive
    users: int

    @property
    def net(self) -> Decimal:
        return self.debits + self.credits


async def ledger_totals(conn: AsyncConnection) -> LedgerTotals:
    zero = sa.literal(Decimal("0.00"))
    row = (
        await conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(ledger.c.amount).filter(ledger.c.amount < 0), zero),
                sa.func.coalesce(sa.func.sum(ledger.c.amount).filter(ledger.c.amount > 0), zero),
            )
        )
    ).one()
    users = (await conn.execute(sa.select(sa.func.count()).select_from(balances))).scalar_one()
    return LedgerTotals(int(row[0]), Decimal(row[1]), Decimal(row[2]), int(users))


async def top_balances(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    stmt = (
        sa.select(balances.c.user_id, balances.c.balance, balances.c.entries)
        .order_by(balances.c.balance.desc(), balances.c.user_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]
