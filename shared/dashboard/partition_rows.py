"""A service page's partition table: per partition, what the broker and the database each
know — Kafka's committed offset beside the group's offsets row (database mode) — with lag and
window computed from the authoritative committed offset (``shared.reconcile``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.readside import PartitionProgress
from shared.reconcile import BrokerFacts, PartitionRecon, committed_offset


def partition_rows(
    facts: BrokerFacts,
    group: str,
    progress: dict[int, PartitionProgress] | None,
    owned: set[int],
    stored: dict[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Per partition, what the broker and the database each know (a service page's table):
    Kafka's committed offset and the group's offsets row (``db_offset``) side by side, lag and
    window from the authoritative one; None where one side is down."""
    now = datetime.now(UTC)
    rows = []
    for p in sorted(set(facts.log_end) | set(progress or {})):
        prog = (progress or {}).get(p)
        row: dict[str, Any] = {"partition": p, "owned": p in owned, **_database_side(prog)}
        row.update(dict.fromkeys(("log_end", "committed", "lag", "window", "time_lag_s")))
        row["db_offset"] = (stored or {}).get(p)
        if p in facts.log_end:
            kafka = facts.committed.get(group, {}).get(p)
            rec = PartitionRecon(
                p,
                facts.log_end[p],
                committed_offset(kafka, row["db_offset"]),
                row["persisted_offset"],
                row["last_event_time"],
            )
            row.update(
                log_end=rec.log_end,
                committed=kafka,
                lag=rec.lag,
                time_lag_s=rec.time_lag(now),
            )
            if progress is not None:  # without the database the window is unknown, not 0
                row["window"] = rec.window
        rows.append(row)
    return rows


def _database_side(prog: PartitionProgress | None) -> dict[str, Any]:
    names = ("persisted_offset", "processed", "duplicates", "invalid", "last_event_time")
    return {n: getattr(prog, n) if prog else None for n in names}
