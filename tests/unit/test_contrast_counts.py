"""The contrasts' own counting, on known inputs: what "out of order", "lost" and "doubled"
mean in their verdicts."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime

from infra.scenarios.play.acks_0_vs_all import lost_and_doubled
from infra.scenarios.play.order_within_a_partition import out_of_order
from shared.events import Event


def test_out_of_order_counts_each_event_applied_after_a_higher_number() -> None:
    assert out_of_order([1, 2, 3, 4]) == 0
    assert out_of_order([2, 1, 3, 4]) == 1
    assert out_of_order([4, 1, 2, 3]) == 3
    assert out_of_order([1, 3, 2, 5, 4]) == 2


def test_lost_and_doubled_read_from_the_log() -> None:
    now = datetime.now(UTC)
    sent = [Event(uuid.uuid4(), now, "click", f"acks-0-{i}") for i in range(4)]
    log = Counter(
        {(e.user_id or "", e.event_id): n for e, n in zip(sent, (1, 0, 3, 1), strict=True)}
    )
    log[("acks-all-0", uuid.uuid4())] = 2  # the other side's events count for neither
    assert lost_and_doubled(log, sent) == (1, 2)
