"""9. Plain vs idempotent writes under redelivery: the lab's naive consumer (manual commits,
but a plain INSERT with no key on event_id and a running total) and billing (its inbox) both
crash between their database commit and their offset commit, on the same events."""

from __future__ import annotations

from decimal import Decimal

from infra.scenarios.engine import Check, Say, Scenario, Verdict
from infra.scenarios.lab import naive_consumer
from infra.scenarios.measure import ranges_text
from infra.scenarios.platform import Platform
from infra.scenarios.play import crash_in_the_window
from shared.broker import log_end_offsets


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_processes("docker compose kill billing (the naive consumer runs locally only)")
    async with naive_consumer(platform, "manual") as naive:
        await naive.run(crash="in-window")
        say(
            f"started the counter-example, the naive consumer (group {naive.group}: plain INSERT,"
            " no inbox, a running total), armed to die after writing a batch of the coming burst,"
            " before its commit"
        )
        billing = await crash_in_the_window.play(platform, say)
        window = await naive.crashed()
        size = len(window)
        amount = sum((a or Decimal(0) for _, _, a in window), Decimal(0))
        spans = {p: (min(o for q, o, _ in window if q == p), max(o for q, o, _ in window
                 if q == p) + 1) for p in {p for p, _, _ in window}}  # fmt: skip
        say(
            f"the naive consumer wrote {size} events ({ranges_text(spans) or 'none'}, amount"
            f" {amount}) and died before committing their offsets"
        )
        say(
            f"predict: its table holds those {size} events twice; its running total is {size}"
            f" events and {amount} too high"
        )
        await naive.run()
        say("restarted the naive consumer: it reads its window again from its committed offsets")
        await naive.catch_up(await log_end_offsets(platform.bootstrap, platform.topic))
        doubled = await naive.rows_at(window)
        w = await naive.written()
    absorbed = next(c.measured for c in billing.checks if c.what.startswith("duplicates"))
    say(
        f"side by side: the naive table holds its {size} window events in {doubled} rows and"
        f" its total is off by {w.total_events - w.events} events and"
        f" {w.total_amount - w.amount}; billing absorbed {absorbed} duplicates, its ledger of"
        " the window unchanged"
    )
    return Verdict(
        (
            Check("naive table rows of its window", 2 * size, doubled),
            Check("naive running total minus the events it read", size, w.total_events - w.events),
            Check("naive running amount minus the amount it read", amount,
                  w.total_amount - w.amount),
            *billing.checks,
        )
    )  # fmt: skip


SCENARIO = Scenario(
    name="plain-vs-idempotent-writes",
    number=9,
    teaches=(
        "The same crash makes Kafka deliver a window again to a plain-INSERT consumer and to "
        "billing: the naive table holds the window twice and its total is off by exactly that; "
        "billing's inbox absorbs every duplicate."
    ),
    touches=("billing",),
    play=play,
)
