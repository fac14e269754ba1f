"""5. Scale out and back: a second billing instance joins billing's consumer group; the group
rebalances and the two split the partitions (each service page shows its own per partition);
stopped, the first takes them all back. The inbox makes every handover harmless."""

from __future__ import annotations

from infra.ops.groups import describe_group
from infra.polling import async_wait_for
from infra.scenarios.engine import Check, Say, Scenario, Verdict
from infra.scenarios.measure import gaps_check, log_ends_of, reading, wait_committed
from infra.scenarios.platform import POLL_S, Platform

SERVICE, SECOND = "billing", "billing-2"
EVENTS = 300  # published while two share the work, and again after one is left
COMPOSE = (
    f"docker compose run -d --no-deps {SERVICE} (a second container in {SERVICE}'s group); "
    "docker rm -f that container to scale back"
)
Owners = dict[int, set[int]]  # member's pid → partitions of the events topic it owns


async def owners(platform: Platform, members: int) -> Owners:
    """Who owns which partition, once the group is stable with ``members`` members (empty:
    not yet — a rebalance is still under way)."""
    info = await describe_group(platform.bootstrap, platform.services[SERVICE].group)
    if info.state != "Stable" or len(info.members) != members:
        return {}
    return {  # a service's client id is <service>-<pid>
        int(m.client_id.rsplit("-", 1)[1]): {
            tp.partition for tp in m.partitions if tp.topic == platform.topic
        }
        for m in info.members
    }


async def wait_owners(platform: Platform, members: int, what: str) -> Owners:
    return await async_wait_for(
        lambda: owners(platform, members), timeout=90, what=what, interval=POLL_S * 2
    )


async def publish_and_drain(platform: Platform) -> None:
    await platform.publish(EVENTS)
    ends = log_ends_of(await reading(platform, SERVICE))
    await wait_committed(platform, SERVICE, ends)


async def play(platform: Platform, say: Say) -> Verdict:
    platform.need_processes(COMPOSE)
    platform.need_database()
    first = platform.current(SERVICE).pid
    n = len((await reading(platform, SERVICE)).partitions)
    say(f"{SERVICE} runs one instance (pid {first}) owning all {n} partitions")
    say("predict: a second instance joins; the group rebalances and the two split the "
        f"{n} partitions, none owned twice; stopped, pid {first} owns all {n} again")  # fmt: skip
    platform.scale(SERVICE, 2, COMPOSE)
    try:
        split = await wait_owners(platform, 2, "the group to rebalance over two")
        second = platform.current(SECOND).pid
        say("rebalanced: " + "; ".join(f"pid {pid} owns {sorted(ps)}" for pid, ps in split.items()))
        say(f"publish {EVENTS} events: each instance applies its partitions' share")
        await publish_and_drain(platform)
    finally:
        platform.scale(SERVICE, 1, COMPOSE)
    back = await wait_owners(platform, 1, f"{SECOND} to leave and the group to rebalance")
    kept = back.get(first or 0, set())
    say(f"{SECOND} (pid {second}) stopped: rebalanced, pid {first} owns {sorted(kept)}")
    say(f"publish {EVENTS} more")
    await publish_and_drain(platform)
    end = await reading(platform, SERVICE)
    shared = set.intersection(*split.values())
    return Verdict(
        (
            Check("instances in the group after scaling out", 2, len(split)),
            Check("partitions owned by the two together", n, len(set.union(*split.values()))),
            Check("partitions owned by both", 0, len(shared)),
            Check("instances owning none", 0, sum(1 for ps in split.values() if not ps)),
            Check("partitions the first instance owns after scaling back", n, len(kept)),
            gaps_check(say, end),
        )
    )  # fmt: skip


SCENARIO = Scenario(
    name="scale-out-and-back",
    number=5,
    teaches=(
        "A second billing instance joins its group: the partitions are split between the two, "
        "and handed back when it stops; nothing is lost or applied twice."
    ),
    touches=(SERVICE,),
    play=play,
)
