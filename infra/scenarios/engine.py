"""The one scenario engine: a scenario is a named experiment on the live platform that says
what it will do and predicts numbers, does it through the platform's own controls while
narrating each step, measures, and ends with a verdict — predicted vs measured, held or not.

A scenario is a small file of its own (``infra/scenarios/play/``) defining ``SCENARIO``; the
engine never names one, so adding a scenario is adding a file.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from aiokafka.errors import KafkaConnectionError
from sqlalchemy.exc import OperationalError

# `./fanout scenario run` exit codes.
HELD, NOT_HELD, CANNOT_RUN = 0, 1, 2

Say = Callable[[str], None]
# No broker or database to talk to: the platform is not up here (or went away mid-run).
UNREACHABLE = (KafkaConnectionError, OperationalError, ConnectionError)
P = TypeVar("P")  # what a scenario plays on: the platform (a stand-in in unit tests)
Number = int | Decimal


class CannotRun(Exception):
    """The scenario cannot run here (no process control, no database…); ``str()`` says why
    and, where it applies, which command does the step instead."""


@dataclass(frozen=True)
class Check:
    """One prediction and what was measured; it holds when the two are equal, exactly."""

    what: str
    predicted: Number
    measured: Number

    @property
    def held(self) -> bool:
        return self.predicted == self.measured

    def text(self) -> str:
        return f"{self.what}: predicted {self.predicted}, measured {self.measured}"


@dataclass(frozen=True)
class Measured:
    """A number shown beside the checks but not judged: what a contrast's weak side cost
    (``acks=0: lost``), which the run measures and never predicts."""

    what: str
    measured: Number

    def text(self) -> str:
        return f"{self.what}: measured {self.measured}"


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]
    measured: tuple[Measured, ...] = ()

    @property
    def held(self) -> bool:
        # No check proves nothing: an empty verdict never holds.
        return bool(self.checks) and all(c.held for c in self.checks)

    def line(self) -> str:
        """The last line of a run: the verdict, then every predicted and measured number."""
        word = "held" if self.held else "did not hold"
        parts = [c.text() for c in self.checks] + [m.text() for m in self.measured]
        return f"verdict: {word} — " + "; ".join(parts)


@dataclass(frozen=True)
class Scenario(Generic[P]):
    """``play(platform, say)`` does the steps, narrating through ``say``, and returns the
    verdict; it raises CannotRun before changing anything when the platform lacks a control."""

    name: str  # short, kebab-case: `./fanout scenario run NAME`
    number: int  # its place in the list
    teaches: str  # one sentence
    touches: tuple[str, ...]  # the services it acts on (highlighted on the overview)
    play: Callable[[P, Say], Awaitable[Verdict]]


async def run(scenario: Scenario[P], platform: P, say: Say) -> int:
    """Play ``scenario``; narrate its verdict (the last line) and return the exit code."""
    try:
        verdict = await scenario.play(platform, say)
    except CannotRun as exc:
        say(f"cannot run here: {exc}")
        return CANNOT_RUN
    except UNREACHABLE as exc:
        say(f"cannot run here: the platform is not reachable ({type(exc).__name__}: {exc})")
        return CANNOT_RUN
    except Exception as exc:  # noqa: BLE001 - a broken run is told, never a traceback
        say(f"stopped before its verdict: {type(exc).__name__}: {exc}")
        return NOT_HELD
    say(verdict.line())
    return HELD if verdict.held else NOT_HELD
