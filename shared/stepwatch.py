"""A consume loop that stays in one step too long says where it waits.

A step can legitimately last long (a database that is down, a table lock held by someone
else), but a loop that waits on the client for ever looks exactly like an idle one from the
outside: no batch, no commit, no log line. So a step older than ``STUCK_S`` logs its await
chain once — the coroutine frames from the loop down to the future it waits on (asyncio's
``Task.get_stack`` shows one frame of a suspended coroutine, not the chain)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)
STUCK_S = 30.0


def awaiting(coro: object) -> list[str]:
    """Where a suspended coroutine waits: one line per frame, outermost first."""
    out = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            code = frame.f_code
            out.append(f"{code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return out


class StepWatch:
    """``started()`` at each step; ``watch(task)`` runs beside the loop's task."""

    def __init__(
        self, name: str, stuck_s: float = STUCK_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name, self.stuck_s, self.clock = name, stuck_s, clock
        self._since = clock()
        self._told = False

    def started(self) -> None:
        self._since, self._told = self.clock(), False

    def check(self, task: asyncio.Task[None]) -> bool:
        """Log ``task``'s await chain if its step is older than ``stuck_s`` (once per step)."""
        held = self.clock() - self._since
        if held < self.stuck_s or self._told or task.done():
            return False
        self._told = True
        chain = "\n  ".join(awaiting(task.get_coro()))
        log.warning("%s: one step for %.0f s, waiting at:\n  %s", self.name, held, chain)
        return True

    async def watch(self, task: asyncio.Task[None]) -> None:
        while not task.done():
            await asyncio.sleep(self.stuck_s / 4)
            self.check(task)
