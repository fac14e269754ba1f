"""7. Fire-and-forget (acks=0) vs acknowledged (acks=all, idempotent) producers, both writing
while a broker node dies (the broker with one node; partition 0's leader with three). Counted
from the log itself, read from its start by a client of its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from infra.polling import async_wait_for
from infra.scenarios.brokers import (
    kill_node,
    node_pids,
    read_log,
    wait_in_sync,
    wait_node_back,
)
from infra.scenarios.engine import Check, Measured, Say, Scenario, Verdict
from infra.scenarios.platform import POLL_S, Platform
from services.publisher.producer import make_producer
from shared.broker import ensure_events_topic
from shared.events import Event

N, RATE, PARTITIONS = 4_000, 800, 3  # each side: 5 s of events; the node dies after 1 s
ACKS_1 = (
    "acks=1 (not played) is acknowledged by the leader alone: a leader that dies before a "
    "replica copied the write takes acknowledged events with it, and without idempotence "
    "a retried send can be written twice"
)


async def started(bootstrap: str, acks: str) -> AIOKafkaProducer:
    """A producer connected to the broker (which may be restarting: it waits)."""
    made: list[AIOKafkaProducer] = []

    async def connected() -> bool:
        producer = make_producer(bootstrap, acks)
        try:
            await producer.start()
        except KafkaError:
            await producer.stop()
            return False
        made.append(producer)
        return True

    await async_wait_for(connected, timeout=240, what="a producer to connect", interval=POLL_S)
    return made[0]


async def stream(
    bootstrap: str,
    acks: str,
    topic: str,
    batch: list[Event],
    heard: Callable[[Event, BaseException | None], None],
    sent: Callable[[], None],
) -> int:
    """Send ``batch`` at RATE; a client whose sender dies (aiokafka's can, when the broker
    dies under acks=0) is replaced. Returns how many sends raised at once (told ``heard``)."""
    producer, raised, begin = await started(bootstrap, acks), 0, time.monotonic()
    try:
        for i, e in enumerate(batch):
            if (delay := begin + i / RATE - time.monotonic()) > 0:
                await asyncio.sleep(delay)  # pacing to RATE
            try:
                future = await producer.send(topic, e.to_json(), key=(e.user_id or "").encode())
            except KafkaError as exc:
                heard(e, exc)
                raised += 1
                with contextlib.suppress(KafkaError):
                    await producer.stop()
                producer = await started(bootstrap, acks)
                continue
            future.add_done_callback(
                lambda f, e=e: heard(e, f.exception() if not f.cancelled() else TimeoutError())
            )
            sent()
    finally:
        with contextlib.suppress(KafkaError):
            await producer.stop()  # flushes what is still in flight
    return raised


def side(name: str) -> list[Event]:
    """N events whose user_id names the side, so the log tells the two apart."""
    now = datetime.now(UTC)
    return [Event(uuid.uuid4(), now, "click", f"{name}-{i % 20}") for i in range(N)]


def lost_and_doubled(log: Counter[tuple[str, uuid.UUID]], sent: list[Event]) -> tuple[int, int]:
    found = [log[(e.user_id or "", e.event_id)] for e in sent]
    return sum(1 for n in found if n == 0), sum(n - 1 for n in found if n > 1)


@dataclass
class Race:
    acked: list[Event] = field(default_factory=list)
    refused: list[Event] = field(default_factory=list)
    sent: int = 0  # acks=all sends so far: the kill waits for RATE of them

    def heard(self, e: Event, error: BaseException | None) -> None:
        (self.refused if error else self.acked).append(e)

    def counted(self) -> None:
        self.sent += 1


async def both_through_the_kill(
    platform: Platform,
    home: Path,
    victim: int,
    topic: str,
    zero: list[Event],
    every: list[Event],
    say: Say,
) -> tuple[list[Event], list[Event], int]:
    """Both producers stream while ``victim`` is killed and brought back; returns acks=all's
    acknowledged and refused events, and how many acks=0 sends raised at once."""
    race, killed = Race(), []

    async def kill_mid_stream() -> None:
        async def under_way() -> bool:
            return race.sent >= RATE

        await async_wait_for(under_way, timeout=60, what="the stream", interval=POLL_S / 4)
        killed.append(await kill_node(home, victim))
        say(f"killed broker node {victim} (SIGKILL) after {race.sent} acks=all sends")

    b = platform.bootstrap
    replaced0, replaced, _ = await asyncio.gather(
        stream(b, "0", topic, zero, lambda e, error: None, lambda: None),
        stream(b, "all", topic, every, race.heard, race.counted),
        kill_mid_stream(),
    )
    for acks, n in (("0", replaced0), ("all", replaced)):
        if n:
            say(f"the acks={acks} client's sender died with the broker: {n} send(s) raised at"
                " once, and a new client carried on")  # fmt: skip
    await wait_node_back(platform, home, victim, killed[0])
    say(f"the supervisor restarted node {victim}; both producers are done")
    return race.acked, race.refused, replaced0


async def play(platform: Platform, say: Say) -> Verdict:
    home = platform.need_processes("docker compose kill kafka (restart: unless-stopped revives it)")
    nodes = node_pids(home)
    replicas = 3 if len(nodes) >= 3 else 1
    topic = f"contrast-acks-{uuid.uuid4().hex[:8]}"
    await ensure_events_topic(platform.bootstrap, topic, PARTITIONS, replicas)
    victim = (await wait_in_sync(platform.bootstrap, topic, replicas))[0][0]
    say(f"created {topic} explicitly: {PARTITIONS} partitions, {replicas} replica(s)")
    say(
        f"predict: acks=all (idempotent) loses 0 of what the broker acknowledged and doubles 0;"
        f" acks=0 loses what was in flight when node {victim} died (measured, not assumed)"
    )
    zero, every = side("acks-0"), side("acks-all")
    race = await both_through_the_kill(platform, home, victim, topic, zero, every, say)
    log = await read_log(platform.bootstrap, topic)
    acked, refused, replaced0 = race
    say(f"read {topic} from its start with a client of its own: {sum(log.values())} events")
    lost0, doubled0 = lost_and_doubled(log, zero)
    lost_all, doubled_all = lost_and_doubled(log, acked)
    say(
        f"acks=0: {lost0} of {N:,} lost, {doubled0} doubled; acks=all: {lost_all} of"
        f" {len(acked):,} acknowledged lost, {doubled_all} doubled ({len(refused)} refused, so"
        " the producer knew)"
    )
    if lost0 == 0:
        say("acks=0 happened to lose nothing this time: nothing promised it; acks=all's 0 is")
    say(ACKS_1)
    say(f"{topic} stays for a look: ./fanout topics {topic}; ./fanout tail {topic}")
    return Verdict(
        (
            Check("acks=all acknowledged events lost", 0, lost_all),
            Check("acks=all events doubled", 0, doubled_all),
        ),
        (
            Measured("acks=0 events lost", lost0),
            Measured("acks=0 events doubled", doubled0),
            Measured("acks=all sends refused", len(refused)),
            Measured("acks=0 sends its client raised at once", replaced0),
        ),
    )


SCENARIO = Scenario(
    name="acks-0-vs-all",
    number=7,
    teaches=(
        "A fire-and-forget producer (acks=0) and an acknowledged one (acks=all, idempotent) "
        "write while a broker dies: counted from the log, acks=all loses and doubles nothing "
        "it was told was written; acks=0 loses what was in flight."
    ),
    touches=(),
    play=play,
)
