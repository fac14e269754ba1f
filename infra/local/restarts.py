"""Restart with backoff: what the local runner does when a process it supervises exits — a
broker node, the PostgreSQL postmaster or a service — under compose.yml's ``restart:`` policy.

The delay doubles with each consecutive failure (1 s, 2 s, 4 s … at most 30 s); a run of
``stable_s`` or longer starts the count again. A start that fails (the process exits before it
is ready, or is not ready in time) is a failure too. After ``give_up_after`` consecutive
failures the supervisor gives up on that process and says so — in its log, in
``./fanout status`` and on the overview — never silently. FANOUT_RESTART_FIRST_S,
FANOUT_RESTART_MAX_S, FANOUT_RESTART_STABLE_S and FANOUT_RESTART_GIVE_UP_AFTER override it.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

# compose's policies that restart an exited container ("no" does not).
RESTARTING = ("always", "unless-stopped", "on-failure")


def say(message: str) -> None:
    """One line of the supervisor's log (the terminal, or .state/up/up.log when detached)."""
    stamp = time.strftime("%H:%M:%S")
    print(f"{stamp} fanout: {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 30.0
    give_up_after: int = 10

    @classmethod
    def from_env(cls) -> Backoff:
        env, base = os.environ, cls()
        return cls(
            first_s=float(env.get("FANOUT_RESTART_FIRST_S", base.first_s)),
            max_s=float(env.get("FANOUT_RESTART_MAX_S", base.max_s)),
            stable_s=float(env.get("FANOUT_RESTART_STABLE_S", base.stable_s)),
            give_up_after=int(env.get("FANOUT_RESTART_GIVE_UP_AFTER", base.give_up_after)),
        )

    def delay(self, failures: int) -> float:
        """The wait before the restart that follows ``failures`` consecutive failures."""
        return float(min(self.max_s, self.first_s * 2 ** max(0, failures - 1)))


@dataclass
class Restarts:
    """One supervised process's restart record: what status and the overview show."""

    name: str
    policy: str = "unless-stopped"
    backoff: Backoff = field(default_factory=Backoff)
    restarts: int = 0
    failures: int = 0  # consecutive: exits within stable_s of a start, and failed starts
    state: str = "up"  # up | down (restart due at retry_at) | starting | gave up | exited
    last_exit: int | None = None
    last_error: str | None = None
    up_since: float = field(default_factory=time.monotonic)
    down_since: float | None = None
    retry_at: float | None = None
    last_down_s: float | None = None  # how long the last outage lasted, exit to ready

    def exited(self, code: int, now: float) -> None:
        """The process exited (and was reaped): schedule its restart, or not, by policy."""
        self.last_exit, self.down_since = code, now
        if self.policy not in RESTARTING or (self.policy == "on-failure" and code == 0):
            self.state, self.retry_at = "exited", None
            say(f"{self.name} exited with {code}; restart policy {self.policy!r}: not restarted")
            return
        ran = now - self.up_since
        self.failures = 1 if ran >= self.backoff.stable_s else self.failures + 1
        self._schedule(now, f"exited with {code} after {ran:.1f}s")

    def start_failed(self, now: float, error: str) -> None:
        self.failures += 1
        self.last_error = error
        self._schedule(now, f"did not start: {error}")

    def _schedule(self, now: float, what: str) -> None:
        if self.failures > self.backoff.give_up_after:
            self.state, self.retry_at = "gave up", None
            say(
                f"{self.name} {what}; GAVE UP after {self.failures - 1} failed restarts in a "
                f"row: restart it by hand (`./fanout down`, `./fanout up`)"
            )
            return
        delay = self.backoff.delay(self.failures)
        self.state, self.retry_at = "down", now + delay
        say(f"{self.name} {what}; restart {self.restarts + 1} in {delay:.0f}s")

    def due(self, now: float) -> bool:
        return self.state == "down" and self.retry_at is not None and now >= self.retry_at

    def starting(self) -> None:
        self.state = "starting"
        say(f"{self.name}: restarting (restart {self.restarts + 1})")

    def started(self, now: float) -> None:
        self.restarts += 1
        self.state, self.up_since, self.retry_at, self.last_error = "up", now, None, None
        if self.down_since is not None:
            self.last_down_s = now - self.down_since
        down = f", down {self.last_down_s:.1f}s" if self.last_down_s is not None else ""
        say(f"{self.name} is back (restart {self.restarts}{down})")

    def view(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        retry_in = None if self.retry_at is None else max(0.0, self.retry_at - now)
        return {
            "state": self.state,
            "restarts": self.restarts,
            "failures": self.failures,
            "policy": self.policy,
            "last_exit": self.last_exit,
            "last_error": self.last_error,
            # Wall-clock: the file is written on changes only, so a reader computes what is left.
            "retry_at": None if retry_in is None else round(time.time() + retry_in, 1),
            "last_down_s": None if self.last_down_s is None else round(self.last_down_s, 1),
        }
