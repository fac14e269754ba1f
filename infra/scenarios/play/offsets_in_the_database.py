"""7. Offsets in the database: the same crash in the window against a service in each offset
strategy — analytics commits its offsets to Kafka after its transaction, billing (redeployed
for the scenario with OFFSET_STORE=database) commits them inside it."""

from __future__ import annotations

from infra.polling import DeadlineExceeded, async_wait_for
from infra.scenarios.engine import Check, Measured, Say, Scenario, Verdict
from infra.scenarios.measure import gaps_check, ranges_text, readings, wait_committed, window_of
from infra.scenarios.platform import Platform
from shared.reconcile import ServiceRecon, broker_facts

KAFKA_SIDE, DATABASE_SIDE = "analytics", "billing"
EVENTS = 200  # enough for a batch each even when nothing else is published
MIRROR_TIMEOUT_S = 120


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_processes("docker compose kill analytics billing")
    platform.need_database()
    say(f"redeploy {DATABASE_SIDE} with OFFSET_STORE=database (a clean stop, then a start)")
    await platform.redeploy(DATABASE_SIDE, "database")
    try:
        return await crash_both(platform, say)
    finally:
        await platform.redeploy(DATABASE_SIDE, None)
        say(f"{DATABASE_SIDE} is back on compose.yml's strategy (OFFSET_STORE=kafka)")


async def crash_both(platform: Platform, say: Say) -> Verdict:
    both = (KAFKA_SIDE, DATABASE_SIDE)
    pids = {n: platform.current(n).pid or 0 for n in both}
    for name in both:
        platform.hold(name)
    try:
        for name in both:
            await platform.crash(name)
        say("armed both crash switches: each dies after its next database commit")
        await platform.publish(EVENTS)
        for name in both:
            await platform.wait_dead(pids[name], 60)
        say(f"published {EVENTS} events; both crashed in the window")
        crashed = await readings(platform, *both)
        mirror = await kafka_behind(platform, crashed[DATABASE_SIDE])
        predict(say, crashed, mirror)
    finally:
        for name in both:
            platform.release(name)
    for name in both:
        new = await platform.wait_restarted(name, pids[name])
        say(f"released: the supervisor restarted {name} as pid {new}")
    after = {n: await wait_committed(platform, n, decided(crashed[n])) for n in both}
    caught_up = await wait_mirror(platform, crashed[DATABASE_SIDE])
    say(f"both committed past the window; {DATABASE_SIDE}'s Kafka mirror caught up")
    return verdict(say, crashed, after, mirror, caught_up)


def predict(say: Say, crashed: dict[str, ServiceRecon], mirror: int) -> None:
    k, d = crashed[KAFKA_SIDE], crashed[DATABASE_SIDE]
    say(
        f"{KAFKA_SIDE} (kafka): {k.window} events persisted above its committed offsets"
        f" ({ranges_text(window_of(k)) or 'none'})"
    )
    say(
        f"{DATABASE_SIDE} (database): its offsets committed with its data, window {d.window};"
        f" Kafka's mirror is {mirror} behind — what kafka mode would have redelivered"
    )
    say(f"predict: {KAFKA_SIDE} absorbs exactly {k.window} duplicates, {DATABASE_SIDE} 0")


def verdict(
    say: Say,
    crashed: dict[str, ServiceRecon],
    after: dict[str, ServiceRecon],
    mirror: int,
    caught_up: bool,
) -> Verdict:
    k, d = KAFKA_SIDE, DATABASE_SIDE
    return Verdict(
        (
            Check(f"{k} (kafka) duplicates absorbed after the restart", crashed[k].window,
                  after[k].duplicates - crashed[k].duplicates),
            Check(f"{d} (database) window at the crash", 0, crashed[d].window),
            Check(f"{d} (database) duplicates absorbed after the restart", 0,
                  after[d].duplicates - crashed[d].duplicates),
            Check(f"{d}'s Kafka mirror caught up (1 = yes)", 1, int(caught_up)),
            gaps_check(say, *after.values()),
        ),
        (Measured(f"{d}: Kafka's mirror behind its rows at the crash", mirror),),
    )  # fmt: skip


def decided(recon: ServiceRecon) -> dict[int, int]:
    """Per partition, one past the highest offset the service had decided."""
    return {p.partition: p.decided for p in recon.partitions if p.decided}


async def mirror_of(platform: Platform, recon: ServiceRecon) -> dict[int, int]:
    facts = await broker_facts(platform.bootstrap, platform.topic, [recon.group])
    return facts.committed.get(recon.group, {})


async def kafka_behind(platform: Platform, recon: ServiceRecon) -> int:
    """How far Kafka's committed offsets (the mirror) trail the database rows."""
    mirror = await mirror_of(platform, recon)
    return sum(max(0, (p.committed or 0) - mirror.get(p.partition, 0)) for p in recon.partitions)


async def wait_mirror(platform: Platform, recon: ServiceRecon) -> bool:
    """Whether the mirror reaches the rows as they stood at the crash (the restarted service's
    claim mirrors rows that are ahead at once; best effort: not reaching them is a measured
    "no", not an error)."""
    target = decided(recon)

    async def reached() -> bool:
        mirror = await mirror_of(platform, recon)
        return all(mirror.get(p, 0) >= off for p, off in target.items())

    try:
        await async_wait_for(reached, timeout=MIRROR_TIMEOUT_S, what="the mirror", interval=0.5)
    except DeadlineExceeded:
        return False
    return True


SCENARIO = Scenario(
    name="offsets-in-the-database",
    number=7,
    teaches=(
        "The same crash in the window against both offset strategies: with offsets in Kafka "
        "the window is delivered again and absorbed; with offsets in the service's own "
        "transaction nothing is delivered again, and nothing is missing."
    ),
    touches=(KAFKA_SIDE, DATABASE_SIDE),
    play=play,
)
