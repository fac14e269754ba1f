"""The statements of ``OFFSET_STORE=database`` on a service's ``offsets`` table: claim a
partition (create the row if absent, bump the owner epoch, read the next offset), move it with a
compare-and-set in a batch's transaction, read it back; and a new row's seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

# A claim is short: it never waits long behind a zombie's transaction holding the row.
CLAIM_TIMEOUTS = ("SET LOCAL lock_timeout = '2s'", "SET LOCAL statement_timeout = '5s'")


@dataclass(frozen=True, slots=True)
class Claim:
    """A partition as its owner holds it: its epoch, and the next offset to read."""

    epoch: int
    next_offset: int


async def seeds(
    kafka: AIOKafkaConsumer,
    committed: dict[TopicPartition, int | None],
    from_beginning: Callable[[TopicPartition], bool],
) -> dict[TopicPartition, int]:
    """A new row's next offset: Kafka's committed offset, else the reset policy."""
    new = [tp for tp, off in committed.items() if off is None]
    earliest = [tp for tp in new if from_beginning(tp)]
    starts = await kafka.beginning_offsets(earliest) if earliest else {}
    latest = [tp for tp in new if tp not in starts]
    ends = await kafka.end_offsets(latest) if latest else {}
    found = {**starts, **ends}
    return {tp: off if off is not None else found[tp] for tp, off in committed.items()}


async def claim(
    engine: AsyncEngine,
    t: sa.Table,
    group: str,
    instance: str,
    seeded: dict[TopicPartition, int],
    kafka_offsets: dict[TopicPartition, int | None],
) -> dict[TopicPartition, Claim]:
    """One short transaction: per partition, the row created if absent (``seeded``), its
    epoch bumped (fencing the previous owner), its next offset read — or Kafka's committed
    offset when that is ahead (the group ran in kafka mode since the row was last written)."""
    async with engine.begin() as conn:
        for stmt in CLAIM_TIMEOUTS:
            await conn.execute(sa.text(stmt))
        out = {}
        for tp in sorted(seeded):  # one lock order for every claimer
            key = {"group_id": group, "topic": tp.topic, "partition": tp.partition}
            seed = {"next_offset": seeded[tp], "owner_epoch": 0, "owner_instance": instance}
            await conn.execute(insert(t).values(**key, **seed).on_conflict_do_nothing())
            mirror = kafka_offsets.get(tp)
            bump = (
                sa.update(t)
                .where(*(t.c[k] == v for k, v in key.items()))
                .values(
                    owner_epoch=t.c.owner_epoch + 1,
                    owner_instance=instance,
                    next_offset=sa.func.greatest(t.c.next_offset, -1 if mirror is None else mirror),
                    updated_at=sa.func.now(),
                )
                .returning(t.c.owner_epoch, t.c.next_offset)
            )
            row = (await conn.execute(bump)).one()
            out[tp] = Claim(row.owner_epoch, row.next_offset)
        return out


async def compare_and_set(
    conn: AsyncConnection,
    t: sa.Table,
    group: str,
    moves: Sequence[tuple[TopicPartition, int]],
    claims: Sequence[Claim],
) -> set[TopicPartition]:
    """Each ``(partition, new next offset)`` of ``moves``, only where the row still holds the
    claim's epoch and next offset; returns the partitions that matched."""
    matched = await conn.execute(
        _compare_and_set(t),
        {
            "group": group,
            "topics": [tp.topic for tp, _ in moves],
            "partitions": [tp.partition for tp, _ in moves],
            "epochs": [c.epoch for c in claims],
            "expected": [c.next_offset for c in claims],
            "next": [end for _, end in moves],
        },
    )
    return {TopicPartition(topic, p) for topic, p in matched}


@cache
def _compare_and_set(table: sa.Table) -> sa.TextClause:
    # One statement for the whole batch, however many partitions it moves.
    return sa.text(f"""
        UPDATE {table.schema}.{table.name} AS o
        SET next_offset = v.next, updated_at = now()
        FROM unnest(CAST(:topics AS text[]), CAST(:partitions AS integer[]),
                    CAST(:epochs AS bigint[]), CAST(:expected AS bigint[]),
                    CAST(:next AS bigint[])) AS v(topic, partition, epoch, expected, next)
        WHERE o.group_id = :group AND o.topic = v.topic AND o.partition = v.partition
          AND o.owner_epoch = v.epoch AND o.next_offset = v.expected
        RETURNING o.topic, o.partition
    """)  # noqa: S608 - the service's own schema and table names, never input


async def stored(engine: AsyncEngine, t: sa.Table, group: str) -> dict[TopicPartition, Claim]:
    """Every row of ``group``, as committed."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(t.c.topic, t.c.partition, t.c.owner_epoch, t.c.next_offset).where(
                t.c.group_id == group
            )
        )
        return {TopicPartition(r.topic, r.partition): Claim(r.owner_epoch, r.next_offset)
                for r in rows}  # fmt: skip
