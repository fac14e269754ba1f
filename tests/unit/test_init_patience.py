"""compose's init retries what a warming-up broker or database answers, and nothing else."""

from __future__ import annotations

import pytest
from aiokafka.errors import InvalidReplicationFactorError, KafkaTimeoutError, NotControllerError

from infra.init import _transient, patiently


def test_transient_errors_are_retried_and_mistakes_are_not() -> None:
    assert _transient(NotControllerError())
    assert _transient(KafkaTimeoutError())
    assert _transient(ConnectionRefusedError())
    assert not _transient(InvalidReplicationFactorError())  # rf 3 on one broker: say so now
    assert not _transient(ValueError("bad setting"))


def test_patiently_returns_after_transient_failures() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("broker starting")
        return "created"

    assert patiently(flaky, patience_s=30) == "created"
    assert len(calls) == 3


def test_patiently_reraises_a_mistake_at_once() -> None:
    calls: list[int] = []

    def wrong() -> None:
        calls.append(1)
        raise InvalidReplicationFactorError()

    with pytest.raises(InvalidReplicationFactorError):
        patiently(wrong, patience_s=30)
    assert len(calls) == 1
