"""3. Replay: billing's group is reset to the earliest offsets and reads its whole log again."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from infra.ops.groups import OffsetMove, apply_reset, ensure_group_idle, plan_reset
from infra.ops.groups_db import move_rows, stored_rows
from infra.polling import async_wait_for
from infra.scenarios.engine import CannotRun, Check, Say, Scenario, Verdict
from infra.scenarios.measure import (
    below,
    committed_of,
    gaps_check,
    ledger_of,
    reading,
    row,
    wait_committed,
)
from infra.scenarios.platform import Platform
from shared.reconcile import ServiceRecon

SERVICE = "billing"


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_processes(
        f"docker compose stop {SERVICE}; ./fanout reset-offsets {SERVICE} --topic "
        f"{platform.topic} --to-earliest --execute; docker compose start {SERVICE}"
    )
    group = platform.services[SERVICE].group
    # OFFSET_STORE=database keeps the authoritative offsets in billing's schema: they move too.
    rows = await stored_rows(platform.need_database(), group, platform.topic)
    admin = platform.need_admin("moving billing's database offsets") if rows else None
    say(f"stop {SERVICE} (SIGTERM: it commits what it persisted) and hold it in the supervisor")
    platform.hold(SERVICE)
    pid = platform.current(SERVICE).pid
    assert pid is not None
    try:
        stopped, events, before = await reset_to_earliest(platform, group, admin, say)
    finally:
        platform.release(SERVICE)
    new = await platform.wait_restarted(SERVICE, pid)
    say(f"released: the supervisor restarted {SERVICE} as pid {new}; it reads from the start")
    done = committed_of(stopped)
    after = await wait_committed(platform, SERVICE, done, timeout=300)
    say(f"{SERVICE} committed past where it stood before the reset")
    again = await ledger_of(platform, below(done))
    return Verdict(
        (
            Check("duplicates absorbed by the replay", events,
                  after.duplicates - stopped.duplicates),
            Check("billing ledger entries of the replayed events", before[0], again[0]),
            Check("billing ledger total of the replayed events", before[1], again[1]),
            gaps_check(say, after),
        )
    )  # fmt: skip


async def reset_to_earliest(
    platform: Platform, group: str, admin: str | None, say: Say
) -> tuple[ServiceRecon, int, tuple[int, Decimal]]:
    """Stop the service, reset its group to earliest (Kafka's offsets, and its database
    offsets when it keeps them there); returns the reading when stopped, the events the
    replay will absorb, and billing's ledger (entries, total) below the old offsets."""
    await platform.stop(SERVICE)
    await async_wait_for(
        lambda: ensure_group_idle(platform.bootstrap, group),
        timeout=30,
        what=f"group {group} to have no member",
    )
    say(f"group {group} has no member left: its offsets may be reset")
    stopped = await reading(platform, SERVICE)
    done = committed_of(stopped)  # the authoritative committed offsets (database mode: rows)
    before = await ledger_of(platform, below(done))
    moves = await plan_reset(platform.bootstrap, group, platform.topic, "earliest")
    replayed = sum(max(done.get(m.partition, 0) - m.new, 0) for m in moves)
    if replayed <= 0:
        raise CannotRun(f"{SERVICE} has committed nothing yet: there is nothing to replay")
    events = replayed - await not_absorbed(platform, stopped, moves)
    others = f" ({replayed - events} of them not events to absorb)" if events < replayed else ""
    say(
        f"committed {stopped.committed}; reset to earliest replays {replayed} offsets{others};"
        f" billing's ledger holds {before[0]} entries of them, total {before[1]}"
    )
    say(f"predict: duplicates absorbed rise by exactly {events}; that ledger does not move")
    await apply_reset(platform.bootstrap, group, platform.topic, moves)
    if admin is not None:
        await move_rows(admin, group, platform.topic, {m.partition: m.new for m in moves})
    say(
        f"reset-offsets {group} --to-earliest --execute: done"
        + (" (and its database offsets)" if admin else "")
    )
    return stopped, events, before


# Dead letters of the events topic that a redrive later applied: replayed, their bytes are
# found in the inbox and absorbed like any event. Every other letter is dead-lettered again.
REDRIVEN = sa.text(
    "SELECT count(*) FROM billing.dead_letters d WHERE d.topic = :topic"
    " AND d.reason = 'handler_error' AND d.event_id IN (SELECT event_id FROM billing.inbox)"
)


async def not_absorbed(platform: Platform, stopped: ServiceRecon, moves: list[OffsetMove]) -> int:
    """Replayed offsets with no event to absorb: transaction markers, and dead letters no
    redrive applied since. Counted from offset 0, so known only for a replay of whole
    partitions (a log cut by retention: 0, and the verdict may rightly not hold)."""
    if any(m.new for m in moves):
        return 0
    (redriven,) = await row(platform.need_database(), REDRIVEN, topic=platform.topic)
    return stopped.skipped + stopped.invalid - int(redriven)


SCENARIO = Scenario(
    name="replay",
    number=3,
    teaches=(
        "Billing's group is reset to the earliest offset and reads the whole log again: every "
        "replayed event is absorbed as a duplicate and no total moves."
    ),
    touches=(SERVICE,),
    play=play,
)
