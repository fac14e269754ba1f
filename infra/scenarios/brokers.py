"""The broker as the broker contrasts act on it: which node leads each partition and which
replicas are in sync, killing a node (SIGKILL: no clean shutdown) and waiting for the
supervisor to bring it back, and reading a topic from the start with an independent client."""

from __future__ import annotations

import os
import signal
import uuid
from collections import Counter
from pathlib import Path

from aiokafka import TopicPartition

from infra.local.proc import pid_alive
from infra.local.status_file import read_status
from infra.polling import async_wait_for
from infra.scenarios.platform import POLL_S, Platform
from shared.broker import admin_client, consumer, log_end_offsets, topic_metadata
from shared.events import Delivery, classify

Leadership = dict[int, tuple[int, list[int]]]  # partition → (leader node, in-sync nodes)


async def leadership(bootstrap: str, topic: str) -> Leadership:
    async with admin_client(bootstrap) as admin:
        meta = await topic_metadata(admin, topic)
    return {p["partition"]: (p["leader"], sorted(p["isr"])) for p in meta["partitions"]}


def node_pids(home: Path) -> dict[int, int]:
    """Each broker node's process, as the supervisor's status file says."""
    return {int(n): p for n, p in (read_status(home) or {}).get("kafka_nodes", {}).items()}


async def kill_node(home: Path, node: int) -> int:
    """SIGKILL broker ``node``; returns its old pid once it is gone."""
    pid = node_pids(home)[node]
    os.kill(pid, signal.SIGKILL)

    async def dead() -> bool:
        return not pid_alive(pid)

    await async_wait_for(dead, timeout=30, what=f"broker node {node} to die", interval=POLL_S)
    return pid


async def wait_node_back(platform: Platform, home: Path, node: int, old_pid: int) -> None:
    """The supervisor restarted ``node`` and the broker answers again."""

    async def back() -> bool:
        pid = node_pids(home).get(node)
        if pid is None or pid == old_pid or not pid_alive(pid):
            return False
        await log_end_offsets(platform.bootstrap, platform.topic)
        return True

    await async_wait_for(back, timeout=240, what=f"the supervisor to restart node {node}")


async def wait_in_sync(bootstrap: str, topic: str, replicas: int) -> Leadership:
    """Every partition led, with ``replicas`` in sync."""

    async def whole() -> Leadership:
        found = await leadership(bootstrap, topic)
        ok = all(lead >= 0 and len(isr) == replicas for lead, isr in found.values())
        return found if ok else {}

    return await async_wait_for(whole, timeout=180, what=f"{topic}: {replicas} replicas in sync")


async def read_log(bootstrap: str, topic: str) -> Counter[tuple[str, uuid.UUID]]:
    """Every event in ``topic`` from its start to its end now, read by a client of its own
    (no group): (user_id, event_id) → how many times it is in the log."""
    ends = await log_end_offsets(bootstrap, topic)
    tps = [TopicPartition(topic, p) for p in ends]
    client = consumer(bootstrap, auto_offset_reset="earliest", max_poll_records=5000)
    await client.start()
    found: Counter[tuple[str, uuid.UUID]] = Counter()
    try:
        client.assign(tps)
        await client.seek_to_beginning(*tps)

        async def read() -> bool:
            batch = await client.getmany(timeout_ms=int(POLL_S * 1000))
            for r in (r for recs in batch.values() for r in recs):
                d = classify(topic, r.partition, r.offset, r.value, r.timestamp)
                if isinstance(d, Delivery):
                    found[(d.event.user_id or "", d.event.event_id)] += 1
            return all([await client.position(tp) >= ends[tp.partition] for tp in tps])

        await async_wait_for(read, timeout=300, what=f"{topic} read to its end", interval=0)
    finally:
        await client.stop()
    return found
