"""The event contract: what is accepted, and the reason code of what is not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.events import Delivery, Rejected, classify
from tests.badinput import BAD_VALUES, GOOD, bad


def test_seed_shape_is_accepted_with_its_date_format() -> None:
    item = classify("t", 0, 7, bad())
    assert isinstance(item, Delivery)
    assert item.event.occurred_at == datetime(2020, 6, 12, 21, 12, 27, tzinfo=UTC)
    assert (item.partition, item.offset) == (0, 7)


def test_iso_8601_with_offset_is_accepted() -> None:
    item = classify(
        "t", 0, 0, bad(event_datetime="2020-06-12T23:12:27+02:00", amount="12.50", user_id="u1")
    )
    assert isinstance(item, Delivery)
    assert item.event.occurred_at == datetime(2020, 6, 12, 21, 12, 27, tzinfo=UTC)
    assert str(item.event.amount) == "12.50"


@pytest.mark.parametrize("reason", sorted(BAD_VALUES))
def test_every_kind_of_bad_input_gets_its_reason(reason: str) -> None:
    item = classify("t", 3, 9, BAD_VALUES[reason])
    assert isinstance(item, Rejected)
    assert (item.reason, item.partition, item.offset) == (reason, 3, 9)


def test_good_example_is_really_good() -> None:
    assert GOOD["event_type"] == "buy"
    assert isinstance(classify("t", 0, 0, bad()), Delivery)
