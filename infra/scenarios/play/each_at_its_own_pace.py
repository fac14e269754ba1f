"""2. Each at its own pace: audit is held — its pause switch stops fetching, its process, group
membership and dashboard stay — while events keep coming. Its lag grows by every event
published meanwhile; analytics and billing keep up; released, audit drains on its own."""

from __future__ import annotations

import time

from infra.polling import async_wait_for
from infra.scenarios.engine import Check, Say, Scenario, Verdict
from infra.scenarios.measure import (
    committed_of,
    elapsed,
    gaps_check,
    log_ends_of,
    readings,
    wait_committed,
)
from infra.scenarios.platform import POLL_S, Platform
from shared.reconcile import ServiceRecon

SERVICE = "audit"
RATE, HOLD_S = 25.0, 8  # the scenario's own stream while audit is held
PAUSE = "curl -X POST -H 'X-Fanout-Action: pause' http://127.0.0.1:6068/pause (and /resume)"


def moved(now: ServiceRecon, then: ServiceRecon) -> int:
    """How far a group's committed offsets moved between two readings."""
    before = committed_of(then)
    return sum(off - before.get(p, 0) for p, off in committed_of(now).items())


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_dashboard(SERVICE, PAUSE)
    platform.need_database()
    names = list(platform.services)
    others = [n for n in names if n != SERVICE]
    await platform.switch(SERVICE, "pause")
    try:
        await async_wait_for(
            lambda: paused(platform), timeout=30, what=f"{SERVICE} to pause", interval=POLL_S
        )
        start = await readings(platform, *names)
        say(f"{SERVICE} paused: it fetches nothing; its process, group and dashboard stay")
        count = int(RATE * HOLD_S)
        say(f"predict: {SERVICE}'s lag grows by every event published while it is held "
            f"(here {RATE:g}/s × {HOLD_S} s = {count}, plus any other stream); "
            f"{' and '.join(others)} commit them all")  # fmt: skip
        await platform.publish(count, rate=RATE)
        mid = await readings(platform, *names)
        ends = log_ends_of(mid[SERVICE])
        published = sum(ends.values()) - sum(log_ends_of(start[SERVICE]).values())
        say(f"{published} events published while held; {SERVICE}'s lag is {mid[SERVICE].lag}")
        for name in others:
            await wait_committed(platform, name, ends, timeout=60)
        kept = await readings(platform, *names)
        say(f"{' and '.join(others)} committed them all; {SERVICE} still held")
    finally:
        await platform.switch(SERVICE, "resume")
    released = time.monotonic()
    await wait_committed(platform, SERVICE, ends, timeout=120)
    say(f"released: {SERVICE} drained its {mid[SERVICE].lag} behind in {elapsed(released)}")
    end = await readings(platform, *names)
    gaps = gaps_check(say, *end.values())
    return verdict(start, mid, kept, end, published, others, gaps)


def verdict(
    start: dict[str, ServiceRecon],
    mid: dict[str, ServiceRecon],
    kept: dict[str, ServiceRecon],
    end: dict[str, ServiceRecon],
    published: int,
    others: list[str],
    gaps: Check,
) -> Verdict:
    grew = mid[SERVICE].lag - start[SERVICE].lag
    still = moved(kept[SERVICE], start[SERVICE])
    checks = [
        Check(f"{SERVICE} lag growth while held", published, grew),
        Check(f"{SERVICE} committed offsets moved while held", 0, still),
        *(Check(f"{n} lag once caught up, {SERVICE} held", 0, lag_below(kept[n], mid[n]))
          for n in others),
        Check("duplicates absorbed (nothing doubled)", 0,
              sum(end[n].duplicates - start[n].duplicates for n in end)),
        gaps,
    ]  # fmt: skip
    return Verdict(tuple(checks))


def lag_below(now: ServiceRecon, mark: ServiceRecon) -> int:
    """``now``'s lag counted only up to ``mark``'s log ends (what was published while held)."""
    done = committed_of(now)
    return sum(max(end - done.get(p, 0), 0) for p, end in log_ends_of(mark).items())


async def paused(platform: Platform) -> bool:
    return bool((await platform.health(SERVICE)).get("paused"))


SCENARIO = Scenario(
    name="each-at-its-own-pace",
    number=2,
    teaches=(
        "Audit is held without being stopped: its lag grows by every event published "
        "meanwhile while analytics and billing keep up; released, it drains at its own pace."
    ),
    touches=(SERVICE,),
    play=play,
)
