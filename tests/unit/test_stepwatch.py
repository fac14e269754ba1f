"""A loop stuck in one step says where it waits: the whole await chain, down to the innermost
coroutine, once per step — and nothing while steps keep finishing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from shared.stepwatch import StepWatch, awaiting


async def innermost_wait(never: asyncio.Future[None]) -> None:
    await never


async def middle(never: asyncio.Future[None]) -> None:
    await innermost_wait(never)


async def watched(stuck: bool, watch: StepWatch, steps: int) -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for _ in range(steps):
        watch.started()
        await asyncio.sleep(0.01)
    if stuck:
        watch.started()
        await middle(never)


async def run(stuck: bool) -> list[str]:
    watch = StepWatch("billing consume loop", stuck_s=0.2)
    task = asyncio.create_task(watched(stuck, watch, steps=40))
    watcher = asyncio.create_task(watch.watch(task))
    deadline = asyncio.get_running_loop().time() + 5
    while not task.done() and asyncio.get_running_loop().time() < deadline:
        if stuck and awaiting(task.get_coro())[-1].endswith("innermost_wait"):
            await asyncio.sleep(0.5)  # 2.5 stuck periods: it must tell only once
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, watcher, return_exceptions=True)
    return awaiting(task.get_coro())


def test_a_stuck_step_logs_its_await_chain_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "shared.stepwatch")
    asyncio.run(run(stuck=True))
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 1, told
    chain = told[0].splitlines()[1:]
    assert [line.rsplit(" in ", 1)[1] for line in chain] == ["watched", "middle", "innermost_wait"]


def test_steps_that_finish_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "shared.stepwatch")
    asyncio.run(run(stuck=False))  # 40 steps of 10 ms: 0.4 s, twice stuck_s, never one stuck
    assert caplog.records == []
