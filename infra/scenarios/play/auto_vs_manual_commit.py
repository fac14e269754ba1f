"""8. Automatic vs manual commit under a crash: the lab's naive consumer (enable_auto_commit)
is killed after its auto-commit and before its database write; billing, which commits only
after its database transaction, is crashed too."""

from __future__ import annotations

from infra.scenarios.engine import Check, Measured, Say, Scenario, Verdict
from infra.scenarios.lab import naive_consumer
from infra.scenarios.platform import Platform
from infra.scenarios.play import crash_in_the_window
from shared.broker import log_end_offsets


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_processes("docker compose kill billing (the naive consumer runs locally only)")
    async with naive_consumer(platform, "auto") as naive:
        await naive.run(crash="after-autocommit")
        say(
            f"started the counter-example, the naive consumer (group {naive.group},"
            " enable_auto_commit=True, writes each event after reading it), armed to die once"
            " its auto-commit has committed past a batch it has not written yet"
        )
        billing = await crash_in_the_window.play(platform, say)
        batch = await naive.crashed()
        say(
            f"the naive consumer read {len(batch)} events, its auto-commit committed past them,"
            " and it died before writing them"
        )
        say(f"predict: after its restart they are never read again: {len(batch)} lost")
        await naive.run()
        say("restarted the naive consumer: it resumes from its committed offsets")
        committed = await naive.catch_up(await log_end_offsets(platform.bootstrap, platform.topic))
        read = sum(committed[p] - naive.start.get(p, 0) for p in committed)
        written = await naive.written_below(committed)
    lost = read - written
    say(
        f"measured: the broker has {read} offsets committed for the naive group since it joined,"
        f" its table holds {written} of them: {lost} committed but never written"
    )
    gaps = next(c.measured for c in billing.checks if c.what == "gaps (reconcile)")
    say(f"side by side: the naive consumer lost {lost} events; billing: {gaps} gaps in reconcile")
    return Verdict(
        (Check("naive events lost (committed, never written)", len(batch), lost), *billing.checks),
        (Measured("naive offsets committed since it joined", read),
         Measured("naive events written", written)),
    )  # fmt: skip


SCENARIO = Scenario(
    name="auto-vs-manual-commit",
    number=8,
    teaches=(
        "A consumer that auto-commits loses the events it read but had not written when it "
        "crashes; billing commits only after its database transaction and loses none."
    ),
    touches=("billing",),
    play=play,
)
