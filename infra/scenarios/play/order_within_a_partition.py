"""10. Order within a partition: a numbered sequence for one user, keyed by its user_id, and
the same sequence with no key. Each service's own tables say in which order it applied them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from infra.polling import async_wait_for
from infra.scenarios.engine import Check, Measured, Say, Scenario, Verdict
from infra.scenarios.measure import column
from infra.scenarios.platform import POLL_S, Platform
from shared.events import Event

N = 30
# In the order each service applied them: audit's deliveries and billing's ledger are
# appended in the order a batch is applied; analytics keeps only its inbox (partition, offset:
# its loop applies a partition in offset order).
APPLIED = {
    "audit": "SELECT event_id FROM audit.deliveries WHERE applied AND event_id = ANY(:ids)"
    " ORDER BY id",
    "billing": "SELECT event_id FROM billing.ledger WHERE event_id = ANY(:ids) ORDER BY seq",
    "analytics": "SELECT event_id FROM analytics.inbox WHERE event_id = ANY(:ids)"
    " ORDER BY partition, kafka_offset",
}


def numbered(user: str) -> list[Event]:
    """Buys of 1, 2, … N for ``user``: the amount is the event's number."""
    now = datetime.now(UTC)
    return [Event(uuid.uuid4(), now, "buy", user, Decimal(k)) for k in range(1, N + 1)]


def out_of_order(numbers: list[int]) -> int:
    """How many were applied after a higher-numbered one."""
    highest, late = 0, 0
    for n in numbers:
        late += n < highest
        highest = max(highest, n)
    return late


async def applied(platform: Platform, name: str, seq: list[Event]) -> list[int]:
    """The numbers of ``seq`` in the order ``name`` applied them (waits for all N)."""
    number = {e.event_id: int(e.amount or 0) for e in seq}
    sql = sa.text(APPLIED[name])
    found: list[int] = []

    async def all_there() -> bool:
        ids = await column(platform.need_database(), sql, ids=list(number))
        found[:] = [number[i] for i in ids]
        return len(found) >= N

    await async_wait_for(all_there, timeout=120, what=f"{name} to apply {N}", interval=POLL_S * 2)
    return found


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_database()
    names = [n for n in APPLIED if n in platform.services]
    user = f"order-{uuid.uuid4().hex[:8]}"
    keyed, unkeyed = numbered(user), numbered(user)
    say(f"predict: {N} numbered buys for {user}, keyed by user_id, land on one partition")
    at = await platform.publish_list(keyed)
    say(f"published them keyed: partitions {sorted({p for p, _ in at})}, offsets in order")
    loose = await platform.publish_list(unkeyed, keyed=False)
    spread = sorted({p for p, _ in loose})
    say(f"published the same {N} with no key: the partitioner put them on partitions {spread}")
    checks = [Check("partitions the keyed sequence landed on", 1, len({p for p, _ in at}))]
    measured: list[Measured] = [Measured("partitions the unkeyed sequence landed on", len(spread))]
    for name in names:
        order = await applied(platform, name, keyed)
        say(f"{name} applied the keyed sequence as {order[:10]}…")
        checks += [
            Check(f"keyed events {name} applied", N, len(order)),
            Check(f"keyed events {name} applied out of order", 0, out_of_order(order)),
        ]
    if "audit" in names:
        mixed = out_of_order(await applied(platform, "audit", unkeyed))
        say(f"audit applied the unkeyed sequence with {mixed} of {N} after a higher number")
        if mixed == 0:
            say("this time the unkeyed one happened to arrive in order: nothing promised it")
        measured.append(Measured("unkeyed events audit applied out of order", mixed))
    return Verdict(tuple(checks), tuple(measured))


SCENARIO = Scenario(
    name="order-within-a-partition",
    number=10,
    teaches=(
        "One user's numbered events keyed by user_id land on one partition and every service "
        "applies them in order; the same events without a key are spread over partitions, "
        "where no order holds."
    ),
    touches=(),
    play=play,
)
