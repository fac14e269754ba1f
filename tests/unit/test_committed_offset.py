"""The authoritative committed offset reconcile and the dashboards read: Kafka's, or the
group's database row where that is ahead (OFFSET_STORE=database)."""

from __future__ import annotations

import pytest

from shared.reconcile import committed_offset


@pytest.mark.parametrize(
    "kafka, stored, expected",
    [
        (None, None, None),  # never committed, no row: kafka mode, a new group
        (7, None, 7),  # kafka mode
        (None, 5, 5),  # database mode, the mirror never committed
        (3, 5, 5),  # database mode, the mirror behind after a crash
        (5, 5, 5),
        (9, 5, 9),  # back in kafka mode: a row left from a database period is behind
    ],
)
def test_the_greater_of_kafkas_offset_and_the_row(
    kafka: int | None, stored: int | None, expected: int | None
) -> None:
    assert committed_offset(kafka, stored) == expected
