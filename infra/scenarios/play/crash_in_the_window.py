"""1. Crash in the window: billing dies between its database commit and its offset commit."""

from __future__ import annotations

from infra.scenarios.engine import Check, Say, Scenario, Verdict
from infra.scenarios.measure import (
    gaps_check,
    ledger_of,
    ranges_text,
    reading,
    wait_committed,
    window_of,
)
from infra.scenarios.platform import Platform

SERVICE = "billing"
EVENTS = 200  # enough for a batch even when nothing else is published


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_processes(f"docker compose kill {SERVICE} (restart: unless-stopped revives it)")
    platform.need_database()
    say(f"hold {SERVICE} in the supervisor: after the crash it stays down until measured")
    platform.hold(SERVICE)
    try:
        pid = platform.current(SERVICE).pid
        assert pid is not None
        await platform.crash(SERVICE)
        say(f"armed {SERVICE}'s crash switch: it dies after its next DB commit, before its offsets")
        say(f"publish {EVENTS} events, so a batch comes")
        await platform.publish(EVENTS)
        await platform.wait_dead(pid, 60)
        say(f"{SERVICE} (pid {pid}) crashed: its last batch is in the database, not committed")
        crashed = await reading(platform, SERVICE)
        window = window_of(crashed)
        before = await ledger_of(platform, window)
        say(
            f"the window: {crashed.window} events persisted above the committed offsets"
            f" ({ranges_text(window) or 'none'}); billing's ledger holds {before[0]} of them,"
            f" total {before[1]}"
        )
        say(f"predict: after the restart {SERVICE} absorbs exactly {crashed.window} duplicates")
    finally:
        platform.release(SERVICE)
    new = await platform.wait_restarted(SERVICE, pid)
    say(f"released: the supervisor restarted {SERVICE} as pid {new}; it rereads the window")
    after = await wait_committed(platform, SERVICE, {p: hi for p, (_, hi) in window.items()})
    say(f"{SERVICE} committed past the window")
    again = await ledger_of(platform, window)
    return Verdict(
        (
            Check("duplicates absorbed after the restart", crashed.window,
                  after.duplicates - crashed.duplicates),
            Check("billing ledger entries of the window", before[0], again[0]),
            Check("billing ledger total of the window", before[1], again[1]),
            gaps_check(say, after),
        )
    )  # fmt: skip


SCENARIO = Scenario(
    name="crash-in-the-window",
    number=1,
    teaches=(
        "Billing dies after its database commit and before its offset commit: the events in "
        "that window are delivered again, and the inbox absorbs every one."
    ),
    touches=(SERVICE,),
    play=play,
)
