"""What a batch is made of: every offset a fetch moved past, as a Delivery or a Rejected per
record, a Skipped per gap (markers, aborted records) and a Rejected per offset of a batch the
client could not decode — partition by partition, in offset order."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import TopicPartition

from shared.events import Delivery, Rejected, classify
from shared.fetch import Fetched, Skipped

Item = Delivery | Rejected | Skipped


def decode(fetched: Fetched) -> list[Item]:
    """Every offset the fetch moved past, partition by partition in offset order: a Delivery
    or a Rejected per record, a Skipped per gap (markers, aborted records), and a Rejected per
    offset of a batch the client could not decode."""
    items: list[Item] = []
    for tp, recs in fetched.partitions():
        decoded: list[Item] = [
            classify(r.topic, r.partition, r.offset, r.value, r.timestamp) for r in recs
        ]
        extra: list[Item] = [*fetched.skipped(tp), *undecodable(fetched, tp)]
        items += sorted([*decoded, *extra], key=_start) if extra else decoded
    return items


def undecodable(fetched: Fetched, tp: TopicPartition) -> list[Rejected]:
    return [
        Rejected(tp.topic, tp.partition, offset, None, "undecodable_batch",
                 f"{u.error} (batch offsets {u.start}-{u.end - 1})")
        for u in fetched.undecodable
        if (u.topic, u.partition) == (tp.topic, tp.partition)
        for offset in range(u.start, u.end)
    ]  # fmt: skip


def _start(item: Item) -> int:
    return item.start if isinstance(item, Skipped) else item.offset


def by_kind(items: Sequence[Item]) -> tuple[list[Delivery], list[Rejected], list[Skipped]]:
    """The batch's deliveries, rejected and skipped, each in order: one pass (three
    ``isinstance`` passes were 3% of a service's CPU)."""
    deliveries: list[Delivery] = []
    rejected: list[Rejected] = []
    skipped: list[Skipped] = []
    for item in items:
        if type(item) is Delivery or isinstance(item, Delivery):  # the usual: one comparison
            deliveries.append(item)
        elif isinstance(item, Rejected):
            rejected.append(item)
        else:
            skipped.append(item)
    return deliveries, rejected, skipped
