"""A loop stuck in one step says where it waits: the whole await chain, down to the innermost
coroutine, once per step — and nothing while its step is younger than the limit. The clock is
the test's: no sleeping."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.stepwatch import StepWatch, awaiting


async def innermost_wait(reached: asyncio.Event, never: asyncio.Future[None]) -> None:
    reached.set()
    await never


async def middle(reached: asyncio.Event, never: asyncio.Future[None]) -> None:
    await innermost_wait(reached, never)


async def watched(reached: asyncio.Event, never: asyncio.Future[None]) -> None:
    await middle(reached, never)


async def checks_at(times: list[float], restart_at: float) -> tuple[list[bool], list[str]]:
    """``check`` at each of ``times`` on a task stuck in ``innermost_wait``; a new step starts
    at ``restart_at``. Returns what each check told, and the chain when stuck."""
    now = [0.0]
    watch = StepWatch("billing consume loop", stuck_s=30, clock=lambda: now[0])
    reached, never = asyncio.Event(), asyncio.get_running_loop().create_future()
    watch.started()
    task = asyncio.create_task(watched(reached, never))
    await asyncio.wait_for(reached.wait(), timeout=5)
    told = []
    for t in times:
        now[0] = t
        if t == restart_at:
            watch.started()
        told.append(watch.check(task))
    chain = awaiting(task.get_coro())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return told, chain


def test_a_stuck_step_logs_its_await_chain_once_per_step(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "shared.stepwatch")
    told, chain = asyncio.run(checks_at([10, 29.9, 30, 45, 100, 120, 131, 200], restart_at=100))
    assert told == [False, False, True, False, False, False, True, False]
    assert [line.rsplit(" in ", 1)[1] for line in chain] == ["watched", "middle", "innermost_wait"]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages
    assert messages[0].startswith("billing consume loop: one step for 30 s, waiting at:")
    assert messages[1].startswith("billing consume loop: one step for 31 s, waiting at:")
    assert [m.splitlines()[1:] for m in messages] == [[f"  {line}" for line in chain]] * 2


async def nothing() -> None:
    return None


def test_a_finished_task_is_not_reported() -> None:
    async def done_task() -> bool:
        watch = StepWatch("audit consume loop", stuck_s=30, clock=lambda: 0.0)
        task = asyncio.create_task(nothing())
        await task
        watch.clock = lambda: 1_000.0
        return watch.check(task)

    assert asyncio.run(done_task()) is False
