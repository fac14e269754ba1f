"""4. Poison → dead letter → redrive. Billing's database gets a rule — a spending limit of
10,000.00 per ledger entry, a CHECK such as a finance team adds — and one event breaks it: a
sale of 25,000.00, valid by the event contract (amounts go to 9,999,999,999.99), which
billing alone cannot apply. It alone is dead-lettered; its partition moves on; the rule is
lifted (the fix); `./fanout redrive billing` applies it to billing once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa

from infra.ops.dlq import redrive
from infra.polling import async_wait_for
from infra.scenarios.engine import Check, Say, Scenario, Verdict
from infra.scenarios.measure import execute, gaps_check, reading, row, wait_committed
from infra.scenarios.platform import POLL_S, Platform
from shared.events import Event
from shared.settings import dlq_topic, redrive_topic

SERVICE = "billing"
LIMIT, AMOUNT = Decimal("10000.00"), Decimal("25000.00")
FOLLOWERS = 10  # published after the poison, on its partition (same user): do they pass it?
COUNT_ID = "SELECT count(*) FROM {schema}.{table} WHERE event_id = CAST(:id AS uuid)"
LETTERS = (
    "SELECT count(*) FROM {schema}.dead_letters"
    " WHERE event_id = CAST(:id AS uuid) AND reason = 'handler_error'"
)
IN_INBOX = "SELECT count(*) FROM {schema}.inbox WHERE event_id = ANY(CAST(:ids AS uuid[]))"


async def count(
    platform: Platform, sql: str, schema: str, table: str = "", **params: object
) -> int:
    text = sa.text(sql.format(schema=schema, table=table))
    return int((await row(platform.need_database(), text, **params))[0])


def events(user: str) -> list[Event]:
    now = datetime.now(UTC)
    poison = Event(uuid.uuid4(), now, "sell", user, AMOUNT)
    return [poison, *(Event(uuid.uuid4(), now, "click", user) for _ in range(FOLLOWERS))]


async def play(platform: Platform, say: Say) -> Verdict:
    admin = platform.need_admin("adding billing's spending limit")
    platform.need_database()
    batch = events(f"scenario-{uuid.uuid4().hex[:8]}")
    letters, passed, refused = await under_the_rule(platform, admin, batch, say)
    say("the fix: the rule is lifted; redrive billing's dead letters")
    sent = await redrive(platform.bootstrap, SERVICE, *letter_topics(platform))
    say(f"redrive billing: {sent} letter(s) re-fed through its redrive topic")
    poison = str(batch[0].event_id)
    applied = await wait_applied(platform, poison)
    say("billing applied the sale")
    recon = await reading(platform, SERVICE)
    checks = [
        Check("billing dead letters of the poison", 1, letters),
        Check("events behind it billing applied", FOLLOWERS, passed),
        Check("billing ledger entries of the poison before the fix", 0, refused),
        Check("billing ledger entries of the poison after the redrive", 1, applied),
        gaps_check(say, recon),
    ]
    return Verdict((*checks, *await unaffected(platform, poison)))


async def under_the_rule(
    platform: Platform, admin: str, batch: list[Event], say: Say
) -> tuple[int, int, int]:
    """Publish ``batch`` while billing's rule stands; the rule is dropped whatever happens.
    Returns billing's dead letters of the poison, the followers it applied, and the poison's
    ledger entries."""
    rule = f"scenario_limit_{uuid.uuid4().hex[:8]}"
    poison = str(batch[0].event_id)
    try:
        await execute(admin, f"ALTER TABLE billing.ledger ADD CONSTRAINT {rule} "
                             f"CHECK (abs(amount) <= {LIMIT}) NOT VALID")  # fmt: skip
        say(f"billing's database now refuses a ledger entry over {LIMIT} (rule {rule})")
        (p, off), *_ = await platform.publish_list(batch)
        say(f"published a sale of {AMOUNT} (event {poison}) at partition {p} offset {off}, "
            f"then {FOLLOWERS} events of the same user behind it")  # fmt: skip
        say("predict: billing dead-letters it alone and moves on; the others apply it")
        for name in platform.services:
            await wait_committed(platform, name, {p: off + 1 + FOLLOWERS}, timeout=120)
        letters = await count(platform, LETTERS, SERVICE, id=poison)
        say(f"billing dead-lettered {letters} event as handler_error; its partition moved on")
        followers = [str(e.event_id) for e in batch[1:]]
        passed = await count(platform, IN_INBOX, SERVICE, ids=followers)
        return letters, passed, await count(platform, COUNT_ID, SERVICE, "ledger", id=poison)
    finally:
        await execute(admin, f"ALTER TABLE billing.ledger DROP CONSTRAINT IF EXISTS {rule}")


async def unaffected(platform: Platform, poison: str) -> list[Check]:
    """Every other service applied the poison once and dead-lettered nothing of it."""
    checks = []
    for name in (n for n in platform.services if n != SERVICE):
        took = await count(platform, IN_INBOX, name, ids=[poison])
        dead = await count(platform, LETTERS, name, id=poison)
        checks += [Check(f"{name} applied the poison", 1, took),
                   Check(f"{name} dead letters of it", 0, dead)]  # fmt: skip
    return checks


def letter_topics(platform: Platform) -> tuple[str, str]:
    return dlq_topic(platform.topic, SERVICE), redrive_topic(platform.topic, SERVICE)


async def wait_applied(platform: Platform, event_id: str) -> int:
    async def applied() -> int:
        return await count(platform, COUNT_ID, SERVICE, "ledger", id=event_id)

    return await async_wait_for(
        applied, timeout=120, what="billing to apply the redriven sale", interval=POLL_S
    )


SCENARIO = Scenario(
    name="poison-and-redrive",
    number=4,
    teaches=(
        "A sale billing's database refuses is dead-lettered alone while its partition moves "
        "on; once the cause is fixed, a redrive applies it to billing exactly once."
    ),
    touches=(SERVICE,),
    play=play,
)
