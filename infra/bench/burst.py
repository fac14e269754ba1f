"""The bench's read-side burst: does a storm of heavy dashboard GETs slow the consume loop?

The three services drain a backlog (paused while it is published, so every batch is full);
the time of their batches (``fanout_batch_seconds`` on /metrics: the DB transaction of one
batch) is taken over three windows of equally many batches: quiet, under a burst of heavy
GETs on every dashboard (distinct parameters, so none is answered from the cache), quiet
again. The burst's windows against the mean of the quiet ones bracket a machine whose load
moves. A measurement, not a test: the README states the bound seen.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count

from shared.local_only import action_request

# Each dashboard's heaviest reads; {n} varies per request (1..100 fits every bound).
HEAVY = {
    "analytics": ("/api/recent?limit={n}", "/api/minutes?minutes={n}", "/api/partitions"),
    "billing": ("/api/recent?limit={n}", "/api/ledger?top={n}", "/api/summary"),
    "audit": ("/api/recent?limit={n}", "/api/events?limit={n}", "/api/summary"),
}
STALL_S = 5.0
CLIENTS = 12  # concurrent GETs in flight: far more than the read pools (2 each) hold
_METRIC = re.compile(r'^fanout_batch_seconds_(sum|count)\{service="(\w+)"\} (\S+)$', re.M)


@dataclass
class Burst:
    """Mean batch time per service (ms), quiet and under the burst, and the GETs sent."""

    quiet_ms: dict[str, float] = field(default_factory=dict)
    burst_ms: dict[str, float] = field(default_factory=dict)
    ratio: dict[str, float] = field(default_factory=dict)  # burst / quiet, per service
    batches: dict[str, int] = field(default_factory=dict)  # per window, per service
    gets: int = 0
    gets_refused: int = 0  # 503 (pool busy or statement timed out) or no answer
    gets_per_s: float = 0


def batch_totals(ports: dict[str, int]) -> dict[str, tuple[float, int]]:
    """(seconds, batches) each service's histogram holds so far."""
    out = {}
    for name, port in ports.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            found = {kind: float(v) for kind, _, v in _METRIC.findall(r.read().decode())}
        out[name] = (found.get("sum", 0.0), int(found.get("count", 0)))
    return out


def switch(ports: dict[str, int], action: str) -> None:
    for port in ports.values():
        urllib.request.urlopen(action_request(port, action), timeout=10).read()


class Storm:
    """CLIENTS threads GETting heavy pages round-robin until stopped."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.urls = [(port, path) for name, port in ports.items() for path in HEAVY.get(name, ())]
        self.stop = threading.Event()
        self.sent = self.refused = 0
        self.lock = threading.Lock()
        self.n = count()

    def client(self) -> None:
        while not self.stop.is_set():
            i = next(self.n)
            port, path = self.urls[i % len(self.urls)]
            url = f"http://127.0.0.1:{port}" + path.format(n=1 + i % 100)
            try:
                urllib.request.urlopen(url, timeout=15).read()
                ok = True
            except (urllib.error.URLError, OSError):
                ok = False
            with self.lock:
                self.sent += 1
                self.refused += not ok


def _window(ports: dict[str, int], batches: int, timeout: float) -> dict[str, tuple[float, int]]:
    """Batch seconds and count per service over the next ``batches`` batches of each (or
    until no batch came for STALL_S: the backlog is drained)."""
    before = last = batch_totals(ports)
    deadline, moved = time.monotonic() + timeout, time.monotonic()
    while True:
        now = batch_totals(ports)
        done = {s: (now[s][0] - before[s][0], now[s][1] - before[s][1]) for s in ports}
        if now != last:
            last, moved = now, time.monotonic()
        if all(n >= batches for _, n in done.values()):
            return done
        if time.monotonic() > min(deadline, moved + STALL_S):
            return done
        time.sleep(0.2)  # the windows' resolution: a few batches at most


def measure(
    ports: dict[str, int], publish: Callable[[], object], batches: int, timeout: float = 300
) -> Burst:
    """Pause the services, ``publish()`` the backlog, resume, then quiet / burst / quiet."""
    switch(ports, "pause")
    try:
        publish()
    finally:
        switch(ports, "resume")
    quiet = _window(ports, batches, timeout)
    storm = Storm(ports)
    with ThreadPoolExecutor(CLIENTS) as pool:
        for _ in range(CLIENTS):
            pool.submit(storm.client)
        start = time.perf_counter()
        try:
            loud = _window(ports, batches, timeout)
        finally:
            storm.stop.set()
    seconds = time.perf_counter() - start
    again = _window(ports, batches, timeout)
    return summarise(quiet, loud, again, storm, seconds)


def summarise(
    quiet: dict[str, tuple[float, int]],
    loud: dict[str, tuple[float, int]],
    again: dict[str, tuple[float, int]],
    storm: Storm,
    seconds: float,
) -> Burst:
    out = Burst(gets=storm.sent, gets_refused=storm.refused)
    out.gets_per_s = round(storm.sent / seconds, 1) if seconds else 0
    for s in quiet:
        calm_s, calm_n = quiet[s][0] + again[s][0], quiet[s][1] + again[s][1]
        calm = calm_s / calm_n * 1000 if calm_n else 0.0
        busy = loud[s][0] / loud[s][1] * 1000 if loud[s][1] else 0.0
        out.quiet_ms[s], out.burst_ms[s] = round(calm, 1), round(busy, 1)
        out.ratio[s] = round(busy / calm, 2) if calm else 0.0
        out.batches[s] = loud[s][1]
    return out
