"""11. Replication: under `./fanout up --brokers 3` (three replicas, min.insync.replicas=2,
acks=all) the leader of partition 0 is killed mid-stream; a replica that was in sync takes
over and every acknowledged event reaches every service once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from infra.polling import async_wait_for
from infra.scenarios.brokers import (
    Leadership,
    kill_node,
    leadership,
    node_pids,
    wait_in_sync,
    wait_node_back,
)
from infra.scenarios.engine import CannotRun, Check, Measured, Say, Scenario, Verdict
from infra.scenarios.measure import gaps_check, readings, row, wait_committed
from infra.scenarios.platform import POLL_S, Platform
from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from shared.broker import log_end_offsets, replication_of
from shared.events import Event

EVENTS, RATE = 5_000, 1_000


async def new_leader(platform: Platform, victim: int) -> Leadership:
    async def moved() -> Leadership:
        found = await leadership(platform.bootstrap, platform.topic)
        return found if found[0][0] not in (victim, -1) else {}

    return await async_wait_for(moved, timeout=60, what="a new leader for partition 0")


async def stream_and_kill(
    platform: Platform, home: Path, victim: int, say: Say
) -> tuple[list[Event], int, int, Leadership]:
    """Publish EVENTS (acks=all) and kill ``victim`` once RATE are sent; returns the
    acknowledged events, the refused count, the victim's old pid, and leadership after it."""
    acked: list[Event] = []
    refused = [0]
    sent = [0]
    during: list[Leadership] = []
    killed: list[int] = []

    def heard(e: Event, error: BaseException | None) -> None:
        if error:
            refused[0] += 1
        else:
            acked.append(e)

    async def kill_mid_stream() -> None:
        async def under_way() -> bool:
            return sent[0] >= RATE

        await async_wait_for(under_way, timeout=60, what="the stream", interval=POLL_S / 4)
        killed.append(await kill_node(home, victim))
        say(f"killed node {victim} (SIGKILL), partition 0's leader, after {sent[0]} sends")
        during.append(await new_leader(platform, victim))
        lead, isr = during[0][0]
        say(f"partition 0: new leader node {lead}, in sync {isr}; the stream goes on")

    producer = make_producer(platform.bootstrap, "all")
    await producer.start()
    try:
        await asyncio.gather(
            publish(producer, platform.topic, events(EVENTS), rate=RATE, on_acked=heard,
                    on_sent=lambda n: sent.__setitem__(0, sent[0] + n)),
            kill_mid_stream(),
        )  # fmt: skip
    finally:
        await producer.stop()
    return acked, refused[0], killed[0], during[0]


async def play(platform: Platform, say: Say) -> Verdict:
    home = platform.need_processes("this scenario needs `./fanout up --brokers 3`")
    nodes = node_pids(home)
    replicas = await replication_of(platform.bootstrap, platform.topic)
    if len(nodes) < 3 or replicas < 3:
        raise CannotRun(
            f"replication needs three brokers: run `./fanout up --brokers 3` (here: {len(nodes)}"
            f" broker(s), {platform.topic} has {replicas} replica(s))"
        )
    names = [n for n in ("analytics", "billing", "audit") if n in platform.services]
    before = await wait_in_sync(platform.bootstrap, platform.topic, 3)
    victim, isr_before = before[0]
    say(f"partition 0 of {platform.topic}: leader node {victim}, in sync {isr_before}")
    say(
        "predict: an in-sync replica takes over, the in-sync set shrinks to 2 (min.insync"
        f".replicas=2 keeps acks=all writing) and is 3 again on the node's return; every"
        f" acknowledged event of {EVENTS:,} is in {', '.join(names)} once"
    )
    acked, refused, old_pid, during = await stream_and_kill(platform, home, victim, say)
    await wait_node_back(platform, home, victim, old_pid)
    after = await wait_in_sync(platform.bootstrap, platform.topic, 3)
    say(f"the supervisor restarted node {victim}; partition 0: leader {after[0][0]}, in sync"
        f" {after[0][1]}")  # fmt: skip
    ends = await log_end_offsets(platform.bootstrap, platform.topic)
    for name in names:
        await wait_committed(platform, name, ends, timeout=300)
    ids = [e.event_id for e in acked]
    checks = [
        Check("new leader was in sync before", 1, int(during[0][0] in isr_before)),
        Check("in-sync replicas of partition 0 with the node dead", 2, len(during[0][1])),
        Check("in-sync replicas of partition 0 after its return", 3, len(after[0][1])),
    ]
    for name in names:
        sql = sa.text(f"SELECT count(*) FROM {name}.inbox WHERE event_id = ANY(:ids)")
        (found,) = await row(platform.need_database(), sql, ids=ids)
        checks.append(Check(f"acknowledged events in {name} (once each)", len(acked), found))
    checks.append(gaps_check(say, *(await readings(platform, *names)).values()))
    return Verdict(
        tuple(checks),
        (Measured("events acknowledged", len(acked)), Measured("sends refused", refused)),
    )


SCENARIO = Scenario(
    name="replication",
    number=11,
    teaches=(
        "With three brokers, partition 0's leader is killed mid-stream: an in-sync replica "
        "takes over, and every acknowledged event reaches every service once."
    ),
    touches=(),
    play=play,
)
