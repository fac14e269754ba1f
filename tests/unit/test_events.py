"""The event contract: what is accepted, and the reason code of what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.events import MAX_FUTURE, Delivery, Rejected, classify
from tests.badinput import BAD_VALUES, HOSTILE, bad


def test_seed_shape_is_accepted_with_its_date_format() -> None:
    item = classify("t", 0, 7, bad())
    assert isinstance(item, Delivery)
    assert item.event.occurred_at == datetime(2020, 6, 12, 21, 12, 27, tzinfo=UTC)
    assert (item.partition, item.offset) == (0, 7)


def test_iso_8601_with_offset_is_accepted_and_kept_in_utc() -> None:
    item = classify(
        "t", 0, 0, bad(event_datetime="2020-06-12T23:12:27+02:00", amount="12.50", user_id="u1")
    )
    assert isinstance(item, Delivery)
    assert item.event.occurred_at == datetime(2020, 6, 12, 21, 12, 27, tzinfo=UTC)
    assert item.event.occurred_at.utcoffset() == timedelta(0)
    assert str(item.event.amount) == "12.50"


@pytest.mark.parametrize("reason", sorted(BAD_VALUES))
def test_every_kind_of_bad_input_gets_its_reason(reason: str) -> None:
    item = classify("t", 3, 9, BAD_VALUES[reason])
    assert isinstance(item, Rejected)
    assert (item.reason, item.partition, item.offset) == (reason, 3, 9)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_gets_its_reason(name: str) -> None:
    reason, value = HOSTILE[name]
    item = classify("t", 0, 1, value)
    assert isinstance(item, Rejected), item
    assert item.reason == reason, item.error


def test_the_future_is_bounded_by_the_records_own_timestamp() -> None:
    produced = datetime(2026, 1, 1, tzinfo=UTC)
    ms = int(produced.timestamp() * 1000)
    at_bound = bad(event_datetime=(produced + MAX_FUTURE).isoformat())
    past_bound = bad(event_datetime=(produced + MAX_FUTURE + timedelta(seconds=1)).isoformat())
    assert isinstance(classify("t", 0, 0, at_bound, ms), Delivery)
    late = classify("t", 0, 0, past_bound, ms)
    assert isinstance(late, Rejected) and late.reason == "invalid_datetime"
    # Decided per record, not by the clock: a redelivery a year later decides the same.
    assert isinstance(classify("t", 0, 0, at_bound, ms), Delivery)


@pytest.mark.parametrize("second", [0, 30, 59])
def test_the_bound_is_exactly_a_day_after_the_stamp_not_its_minute(second: int) -> None:
    """+1 day - 1 s is accepted, +1 day + 1 ms is not, whatever second of its minute the record
    was stamped at (the bound was once taken per record minute: 30 s too strict at :30)."""
    produced = datetime(2026, 1, 1, 12, 0, second, 250_000, tzinfo=UTC)
    ms = int(produced.timestamp() * 1000)
    inside = produced + MAX_FUTURE - timedelta(seconds=1)
    assert isinstance(classify("t", 0, 0, bad(event_datetime=inside.isoformat()), ms), Delivery)
    on = bad(event_datetime=(produced + MAX_FUTURE).isoformat())
    assert isinstance(classify("t", 0, 0, on, ms), Delivery)
    past = bad(event_datetime=(produced + MAX_FUTURE + timedelta(milliseconds=1)).isoformat())
    late = classify("t", 0, 0, past, ms)
    assert isinstance(late, Rejected) and late.reason == "invalid_datetime"


def test_the_past_is_welcome() -> None:
    assert isinstance(classify("t", 0, 0, bad(event_datetime="1970-01-01T00:00:00Z"), 0), Delivery)


@pytest.mark.parametrize("stamp", [2**62, -(2**62), 253402300800000 * 2])
def test_a_record_stamped_beyond_any_calendar_is_still_decided(stamp: int) -> None:
    """Kafka before 4.0 lets a producer stamp any time: classify must never raise on it."""
    assert isinstance(classify("t", 0, 0, bad(), stamp), Delivery)


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [("12.34", True), ("12.3", True), ("12", True), ("1E+2", True), (0, True),
     ("12.340", False), ("0.001", False), ("-0.01", False), ("1E-3", False)],
)  # fmt: skip
def test_an_amount_is_cents_as_written(amount: object, accepted: bool) -> None:
    item = classify("t", 0, 0, bad(event_type="buy", amount=amount))
    if accepted:
        assert isinstance(item, Delivery), item
        assert item.event.amount == Decimal(str(amount))
    else:
        assert isinstance(item, Rejected) and item.reason == "invalid_amount", item
