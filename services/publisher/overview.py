"""What the publisher's page and the fan-out overview show: publisher → topic partitions →
one consumer group per service (services/registry.py), and the reconciliation of what was
published with what each service applied and committed.

The overview reads the services' schemas as the read-only ``fanout_reader`` role
(READER_DATABASE_URL; with a database per service, READER_DATABASE_URLS names each one's);
without it the page still shows the broker's side.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from aiokafka.errors import KafkaError
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry import LAYOUT
from shared import readside
from shared.broker import (
    AUTO_CREATE,
    EXPLICIT_TOPICS,
    BrokerError,
    broker_config,
    partitions_of,
    replication_of,
)
from shared.dashboard.http import Cached, ReadFailed, guarded
from shared.readside import ServiceState
from shared.reconcile import BrokerFacts, ServiceRecon, broker_facts, read_around, reconcile
from shared.settings import PublisherSettings
from shared.supervision import supervision

HISTORY_S = 300


def counter_value(counter: Counter) -> int:
    """A label-less Counter's total, through the public collect() API."""
    samples = next(iter(counter.collect())).samples
    return int(next(s.value for s in samples if s.name.endswith("_total")))


@dataclass
class Overview:
    settings: PublisherSettings
    groups: dict[str, str]
    engines: dict[str, AsyncEngine]  # per service, where it lives (none: broker side only)
    counters: dict[str, Counter]
    cache: Cached = field(default_factory=Cached)
    # How the topic was made changes rarely: read it twice a minute, not on every poll.
    setup_cache: Cached = field(default_factory=lambda: Cached(ttl=30.0))
    # (unix second, events sent so far), sampled every second: the published/s chart.
    samples: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=HISTORY_S + 1))

    @property
    def ports(self) -> dict[str, int]:
        return LAYOUT.ports(LAYOUT.publisher.name, self.settings.web_port)

    def sample(self) -> None:
        self.samples.append((int(time.time()), counter_value(self.counters["sent"])))

    async def broker(self) -> BrokerFacts:
        s = self.settings
        return await self.cache.get(
            "broker",
            lambda: broker_facts(",".join(s.bootstrap_list), s.events_topic, self.groups.values()),
        )

    async def topic_setup(self) -> dict[str, Any]:
        """How the topic was made: explicitly, with its partitions and replication, and the
        broker's auto-creation switch (off)."""
        s = self.settings
        bootstrap = ",".join(s.bootstrap_list)

        async def load() -> dict[str, Any]:
            return {
                "partitions": len(await partitions_of(bootstrap, s.events_topic)),
                "replication": await replication_of(bootstrap, s.events_topic),
                "auto_create": await broker_config(bootstrap, AUTO_CREATE),
                "why": EXPLICIT_TOPICS,
            }

        try:
            return await self.setup_cache.get("topic_setup", load)
        except (KafkaError, BrokerError, OSError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}

    async def read_states(self) -> tuple[dict[str, ServiceState], str | None]:
        if not self.engines:
            return {}, "READER_DATABASE_URL is not set"
        engines, topic = self.engines, self.settings.events_topic
        groups = {s: g for s, g in self.groups.items() if s in engines}
        try:
            return await guarded(lambda: readside.read_states_where(engines, groups, topic)), None
        except ReadFailed as exc:
            return {}, str(exc)

    def publisher(self) -> dict[str, Any]:
        pts = list(self.samples)
        rate = [(t1, (n1 - n0) / max(t1 - t0, 1)) for (t0, n0), (t1, n1) in pairwise(pts)]
        return {
            "sent": counter_value(self.counters["sent"]),
            "acked": counter_value(self.counters["acked"]),
            "rate_setting": self.settings.publish_rate,
            "acks": self.settings.publish_acks,
            "topic": self.settings.events_topic,
            "t": [t for t, _ in rate],
            "per_second": [r for _, r in rate],
        }

    async def overview(self) -> dict[str, Any]:
        return await self.cache.get("overview", self._overview)

    async def _overview(self) -> dict[str, Any]:
        # Committed offsets, then the database, then log ends (read_around): on a busy topic
        # no row shows persisted > published, or committed > persisted.
        s = self.settings
        facts, (states, db_error) = await read_around(
            ",".join(s.bootstrap_list), s.events_topic, self.groups.values(), self.read_states
        )
        services = [
            service_view(name, group, facts, states.get(name))
            for name, group in self.groups.items()
        ]
        return {
            "topic": facts.topic,
            "partitions": [{"partition": p, "log_end": e} for p, e in facts.log_end.items()],
            "published": sum(facts.log_end.values()) if facts.reachable else None,
            "broker": {"up": facts.reachable, "error": facts.error},
            "topic_setup": await self.topic_setup() if facts.reachable else None,
            "db": {"up": db_error is None, "error": db_error},
            "publisher": self.publisher(),
            "services": services,
            # Under `./fanout up`: every process's state and restarts (None under compose).
            "supervisor": supervision(self.settings.supervisor_status),
            "ports": self.ports,
            "generated_at": readside.utcnow(),
        }


def service_view(
    name: str, group: str, facts: BrokerFacts, state: ServiceState | None
) -> dict[str, Any]:
    """One service's line of the reconciliation; the side that is down shows as null."""
    view: dict[str, Any] = {
        "service": name,
        "group": group,
        "published": None,
        "committed": None,
        "lag": None,
        "window": None,
        "reconciled": None,
        "gaps": [],
        "partitions": [],
        "persisted": state.persisted if state else None,
        "accounted": None,
        **{k: _sum(state, k) for k in ("processed", "copies", "invalid", "skipped", "duplicates")},
        "redriven": state.redriven if state else None,
    }
    if facts.reachable:
        committed = facts.committed.get(group, {})
        view["committed"] = sum(committed.values())
        view["published"] = sum(facts.log_end.values())
        view["lag"] = sum(max(e - committed.get(p, 0), 0) for p, e in facts.log_end.items())
    if facts.reachable and state is not None:
        view.update(_reconciled(reconcile(name, group, facts, state)))
    return view


def _reconciled(recon: ServiceRecon) -> dict[str, Any]:
    """What only both sides together tell: the window, gaps, and per partition."""
    return {
        "window": recon.window,
        "reconciled": recon.reconciled,
        "gaps": recon.gaps,
        "accounted": recon.accounted,
        "partitions": [
            {
                "partition": p.partition,
                "log_end": p.log_end,
                "committed": p.committed,
                "persisted_offset": p.persisted_offset,
                "lag": p.lag,
                "window": p.window,
            }
            for p in recon.partitions
        ],
    }


def _sum(state: ServiceState | None, name: str) -> int | None:
    return sum(getattr(r, name) for r in state.progress.values()) if state else None
