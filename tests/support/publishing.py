"""Publishing events with the publisher's own code (acks=all, idempotent, keyed by user),
in the foreground or in a thread so that faults happen mid-stream; and the ground truths a
published batch implies, computed independently of the services' code."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self

import msgspec

from infra.polling import GiveUp, wait_for
from services.publisher.generator import events as generate
from services.publisher.producer import PublishResult, make_producer, publish
from shared.events import Event


def altered(event: Event, **fields: Any) -> Event:
    """``event`` with some fields replaced (the same event id, unless replaced too)."""
    return msgspec.structs.replace(event, **fields)


async def _publish(
    bootstrap: str,
    topic: str,
    batch: Iterable[Event],
    rate: float = 0,
    on_sent: Callable[[int], None] | None = None,
) -> PublishResult:
    producer = make_producer(bootstrap, "all")
    await producer.start()
    try:
        return await publish(producer, topic, batch, rate=rate, on_sent=on_sent)
    finally:
        await producer.stop()


def publish_list(bootstrap: str, topic: str, batch: list[Event]) -> list[Event]:
    """Publish these events; assert every one was acknowledged."""
    result = asyncio.run(_publish(bootstrap, topic, batch))
    assert (result.acknowledged, result.failed) == (len(batch), 0)
    return batch


def publish_events(
    bootstrap: str, topic: str, count: int, seed: int, users: int = 50
) -> list[Event]:
    """Publish ``count`` seeded events; assert every one was acknowledged."""
    return publish_list(bootstrap, topic, list(generate(count, users=users, seed=seed)))


@dataclass
class _InThread:
    """Publishes ``batch`` in its own thread and event loop, paced at ``rate`` events/s."""

    bootstrap: str
    topic: str
    batch: list[Event]
    rate: float = 0
    sent: int = 0
    error: BaseException | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._main, name=f"publish-{self.topic}")
        self._thread.daemon = True
        self._thread.start()
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._go())
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc

    async def _go(self) -> None:
        raise NotImplementedError

    def _count(self, n: int) -> None:
        self.sent += n

    def _failed(self) -> None:
        if self.error is not None:
            raise GiveUp(f"publisher failed: {self.error!r}")

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def _join(self, timeout: float) -> None:
        assert self._thread is not None
        wait_for(lambda: self.done, timeout=timeout, what="the publisher to finish", interval=0.2)
        if self.error is not None:
            raise self.error


@dataclass
class BackgroundPublish(_InThread):
    """services/publisher/producer.publish in a thread: counts what it sent; ``stop`` ends it
    early, at an event's boundary."""

    result: PublishResult | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    async def _go(self) -> None:
        self.result = await _publish(
            self.bootstrap, self.topic, self._events(), rate=self.rate, on_sent=self._count
        )

    def _events(self) -> Iterator[Event]:
        """``batch`` in order, until ``stop``: what was sent is always a prefix of it."""
        for event in self.batch:
            if self._stopping.is_set():
                return
            yield event

    def stop(self, timeout: float = 180) -> list[Event]:
        """Stops at the next event and waits for the end: returns the events sent, each of
        them acknowledged."""
        self._stopping.set()
        self._join(timeout)
        return self.batch[: self._all_acknowledged().sent]

    def _all_acknowledged(self, expected: int | None = None) -> PublishResult:
        """Every event sent (or ``expected`` of them) was acknowledged, none failed."""
        result = self.result
        assert result is not None
        sent = result.sent if expected is None else expected
        assert (result.acknowledged, result.failed) == (sent, 0), result
        return result

    def wait_sent(self, n: int, timeout: float = 120) -> None:
        def probe() -> bool:
            self._failed()
            return self.sent >= n or self.done

        wait_for(probe, timeout=timeout, what=f"{n} events sent", interval=0.05)

    def join(self, timeout: float = 180) -> PublishResult:
        """Waits for the end: every event sent must have been acknowledged (acks=all and
        idempotence retry through a broker's outage)."""
        self._join(timeout)
        return self._all_acknowledged(len(self.batch))


@dataclass
class TrackedPublish(_InThread):
    """The publisher's producer (make_producer) in a thread, recording each event's own
    acknowledgement, so "nothing acknowledged is lost" can be checked event by event."""

    acked: list[Event] = field(default_factory=list)
    failed: list[tuple[Event, BaseException]] = field(default_factory=list)

    async def _go(self) -> None:
        producer = make_producer(self.bootstrap, "all")
        try:
            await producer.start()
            await publish(
                producer,
                self.topic,
                self.batch,
                rate=self.rate,
                on_sent=self._count,
                on_acked=self._settled,
            )
        finally:
            await producer.stop()

    def _settled(self, e: Event, error: BaseException | None) -> None:
        if error is None:
            self.acked.append(e)
        else:
            self.failed.append((e, error))

    def wait_acked(self, n: int, timeout: float = 120) -> None:
        def probe() -> bool:
            self._failed()
            return len(self.acked) >= n

        wait_for(
            probe,
            timeout=timeout,
            what=f"{n} events acknowledged",
            interval=0.05,
            detail=lambda: f"acked {len(self.acked)}, failed {len(self.failed)}",
        )

    def join(self, timeout: float = 180) -> None:
        self._join(timeout)


# --- ground truths ----------------------------------------------------------------------------

BILLABLE = ("buy", "sell")


def type_totals(batch: list[Event]) -> Counter[str]:
    return Counter(e.event_type for e in batch)


def billable(batch: list[Event]) -> list[Event]:
    return [e for e in batch if e.event_type in BILLABLE]


def amounts(batch: list[Event], event_type: str) -> list[Decimal]:
    out = [e.amount for e in batch if e.event_type == event_type]
    assert all(a is not None for a in out), f"a {event_type} without an amount"
    return out  # type: ignore[return-value]


def balances(batch: list[Event]) -> dict[str, Decimal]:
    """Independent of billing's code: buy debits its amount, sell credits it."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for e in billable(batch):
        assert e.user_id is not None and e.amount is not None
        out[e.user_id] += -e.amount if e.event_type == "buy" else e.amount
    return dict(out)


def event_ids(batch: list[Event]) -> set[str]:
    return {str(e.event_id) for e in batch}
