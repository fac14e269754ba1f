"""6. A new group: earliest vs latest. Two throwaway consumer groups join the topic, one with
``auto_offset_reset=latest`` and one with ``earliest``; they never commit, so the broker
forgets them once they leave."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.polling import async_wait_for
from infra.scenarios.engine import Check, Say, Scenario, Verdict
from infra.scenarios.platform import POLL_S, Platform
from shared.broker import consumer, log_end_offsets, offsets_client, partitions_of

EVENTS = 100


@asynccontextmanager
async def reader(platform: Platform, group: str, reset: str) -> AsyncIterator[Counted]:
    client = consumer(platform.bootstrap, group, auto_offset_reset=reset, max_poll_records=5000)
    client.subscribe([platform.topic])
    await client.start()
    try:
        yield Counted(client, platform.topic)
    finally:
        await client.stop()


class Counted:
    """A consumer that keeps the offset of every record it reads: what it saw is counted
    against log ends taken after it joined."""

    def __init__(self, client: AIOKafkaConsumer, topic: str) -> None:
        self.client = client
        self.topic = topic
        self.offsets: list[tuple[int, int]] = []

    async def poll(self) -> None:
        batch = await self.client.getmany(timeout_ms=int(POLL_S * 1000))
        self.offsets += [(r.partition, r.offset) for recs in batch.values() for r in recs]

    async def join(self, tps: list[TopicPartition]) -> dict[int, int]:
        """Wait for the group to hand it every partition; returns where it starts reading."""

        async def assigned() -> bool:
            # No fetch until the start is read: a record handed over first would move the
            # position past itself, and the start would look later than it was.
            return self.client.assignment() == set(tps)

        await async_wait_for(
            assigned, timeout=60, what="the new group's partitions", interval=POLL_S
        )
        return {tp.partition: await self.client.position(tp) for tp in tps}

    async def read_to(self, ends: dict[int, int], timeout: float = 300) -> int:
        """Read until every partition reaches ``ends``; how many events it saw below them."""
        tps = {TopicPartition(self.topic, p): end for p, end in ends.items()}

        async def there() -> bool:
            await self.poll()
            return all([await self.client.position(tp) >= end for tp, end in tps.items()])

        await async_wait_for(there, timeout=timeout, what="the group to read to the log end")
        return sum(1 for p, off in self.offsets if off < ends[p])


async def play(platform: Platform, say: Say) -> Verdict:
    tag = uuid.uuid4().hex[:8]
    late, early = f"scenario-latest-{tag}", f"scenario-earliest-{tag}"
    tps = await partitions_of(platform.bootstrap, platform.topic)
    async with reader(platform, late, "latest") as latest:
        joined = await latest.join(tps)
        say(f"group {late} joined with auto_offset_reset=latest: it starts at the log end")
        say(f"publish {EVENTS} events")
        await platform.publish(EVENTS)
        ends = await log_end_offsets(platform.bootstrap, platform.topic)
        after = sum(ends[p] - joined[p] for p in ends)
        async with offsets_client(platform.bootstrap) as client:
            start = {tp.partition: o for tp, o in (await client.beginning_offsets(tps)).items()}
        log = sum(ends[p] - start[p] for p in ends)
        say(f"predict: latest sees only the {after} events published after it joined")
        async with reader(platform, early, "earliest") as earliest:
            say(f"group {early} joins with auto_offset_reset=earliest")
            say(f"predict: earliest sees the whole log, {log} events")
            seen_late = await latest.read_to(ends)
            say(f"latest read {seen_late} events")
            seen_early = await earliest.read_to(ends)
            say(f"earliest read {seen_early} events")
    return Verdict(
        (
            Check("events the latest group saw", after, seen_late),
            Check("events the earliest group saw", log, seen_early),
        )
    )


SCENARIO = Scenario(
    name="earliest-vs-latest",
    number=6,
    teaches=(
        "A brand-new consumer group starts where auto_offset_reset says: latest sees only what "
        "is published after it joined, earliest reads the whole log."
    ),
    touches=(),
    play=play,
)
