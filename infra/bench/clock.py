"""The bench's instruments, read from outside the measured processes: the broker's committed
offsets (the drain clock), /proc CPU time and peak RSS.

A pipeline "drains" a pre-filled backlog: its three consumer groups, fresh, read from earliest.
The clock starts when every group has members with partitions assigned (so process start-up,
which differs between pipelines, is not counted) and stops when every group's committed
offsets reach the backlog's end. Committed offsets move only after a pipeline's database
commit, so the clock sees what is durably persisted, not what a process says it did.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

from infra.kafka.access import admin
from infra.local import proc
from infra.local.stack import Stack

Procs = dict[str, subprocess.Popen[bytes]]


@dataclass
class Drain:
    pipeline: str
    events: int
    seconds: float = 0.0  # all groups consuming → all committed at the backlog's end
    wall_seconds: float = 0.0  # processes spawned → all committed
    events_per_s: float = 0.0  # fanned out: (events - committed at start) / seconds
    # First group consuming → last group consuming: work done before the clock starts is
    # subtracted when committed, but a large stagger still flatters a pipeline (see --events).
    stagger_seconds: float = 0.0
    cpu_us_per_event: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_total(self) -> float:
        """CPU µs per fanned-out event, all processes of the pipeline, broker and database."""
        return sum(self.cpu_us_per_event.values())


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """utime + stime of one process, in seconds (0 when it has just exited); ``reaped`` adds
    the CPU of its children that have exited and been waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a PostgreSQL backend that ended between listing and reading
        return 0.0
    used = fields[11:15] if reaped else fields[11:13]
    return sum(int(f) for f in used) / os.sysconf("SC_CLK_TCK")


def children(ppid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == ppid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return out


def cpu_snapshot(stack: Stack, procs: Procs) -> dict[str, float]:
    """CPU seconds used so far by each measured process, the broker and PostgreSQL
    (all its backends)."""
    snap = {name: cpu_seconds(p.pid) for name, p in procs.items()}
    snap["kafka"] = sum(cpu_seconds(n.process.pid) for n in stack.kafka.members if n.process)
    if stack.postgres is not None and stack.postgres.process is not None:
        pm = stack.postgres.process.pid
        # Backends and autovacuum workers come and go: the postmaster's reaped children count.
        snap["postgres"] = cpu_seconds(pm, reaped=True) + sum(cpu_seconds(p) for p in children(pm))
    return snap


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class GroupWatch:
    """Committed offsets and membership of consumer groups, one admin client for the run."""

    def __init__(self, bootstrap: str, topic: str, ends: dict[int, int]) -> None:
        self.admin = admin(bootstrap)
        self.topic = topic
        self.ends = ends

    def consuming(self, group: str) -> bool:
        try:
            desc = self.admin.describe_consumer_groups([group], request_timeout=5)[group].result()
        except KafkaException:  # a group not formed yet (NOT_COORDINATOR, …): not consuming
            return False
        return any(m.assignment and m.assignment.topic_partitions for m in desc.members)

    def committed(self, group: str) -> int:
        """Events of the backlog this group has committed (each partition capped at its end)."""
        tps = [TopicPartition(self.topic, p) for p in self.ends]
        request = [ConsumerGroupTopicPartitions(group, tps)]
        got = self.admin.list_consumer_group_offsets(request, request_timeout=5)[group].result()
        return sum(
            min(tp.offset, self.ends[tp.partition]) for tp in got.topic_partitions if tp.offset >= 0
        )


def drain(
    stack: Stack,
    watch: GroupWatch,
    pipeline: str,
    procs: Procs,
    groups: list[str],
    on_start: Callable[[], object] | None = None,
    timeout: float = 900,
) -> Drain:
    """Time a just-spawned pipeline through its backlog; the caller stops its processes."""
    total = sum(watch.ends.values())
    result = Drain(pipeline, total)
    spawned = time.perf_counter()
    start: tuple[float, float, dict[str, float]] | None = None  # time, done, cpu
    pending, seen = set(groups), dict[str, float]()
    while time.perf_counter() < spawned + timeout:
        _check_alive(stack, procs)
        seen |= {g: time.perf_counter() for g in groups if g not in seen and watch.consuming(g)}
        if start is None and len(seen) == len(groups):
            done = sum(watch.committed(g) for g in groups) / len(groups)
            if done >= total:  # nothing left to time (and no events to divide by)
                raise RuntimeError(
                    f"{pipeline}: drained all {total:,} events before every group was seen "
                    "consuming: too few to time, use more --events"
                )
            start = (time.perf_counter(), done, cpu_snapshot(stack, procs))
            result.stagger_seconds = round(max(seen.values()) - min(seen.values()), 2)
            if on_start is not None:
                on_start()  # e.g. the profiler: it samples the measured window only
        if start is not None:
            pending = {g for g in pending if watch.committed(g) < total}  # done stays done
        if start is not None and not pending:
            end, after = time.perf_counter(), cpu_snapshot(stack, procs)
            t0, done, before = start
            result.seconds = round(end - t0, 2)
            result.wall_seconds = round(end - spawned, 2)
            result.events_per_s = round((total - done) / (end - t0))
            result.cpu_us_per_event = {
                k: round((after[k] - before[k]) / (total - done) * 1e6, 1) for k in after
            }
            return result
        # The clock's resolution. Each poll is an OffsetFetch per group: at 0.1 s they cost the
        # broker a few % of a core, charged to the pipeline measured; at 0.2 s, next to nothing.
        time.sleep(0.2)
    raise TimeoutError(f"{pipeline}: backlog not committed within {timeout:.0f} s")


def _check_alive(stack: Stack, procs: Procs) -> None:
    for name, p in procs.items():
        if p.poll() is not None:
            log = stack.home / "logs" / f"{name}.log"
            raise RuntimeError(f"{name} exited ({p.returncode}):\n{proc.tail(log)}")
