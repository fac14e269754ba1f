"""``./fanout bench --profile SERVICE``: py-spy samples one service while it drains the backlog.

py-spy reads the process from outside (ptrace; root here), ``--nonblocking`` so the service is
not paused at each sample. The output is py-spy's raw format — collapsed stacks, one line per
distinct stack with its sample count — which speedscope and flamegraph.pl read; beside it a
summary ranks functions by their own samples and by the samples they are on the stack for.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from infra.local import proc

RATE_HZ = 250
_LOCATION = re.compile(r" \(([^)]*?):\d+\)$")


class Sampler:
    """py-spy on one process over a drain's measured window, or nothing (``pid`` None):
    ``start`` is the drain's ``on_start``, ``finish`` returns the file written."""

    def __init__(self, pid: int | None, out: Path) -> None:
        self.pid, self.out = pid, out
        self.recorder: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.pid is not None:
            self.recorder = start(self.pid, self.out)

    def finish(self) -> str | None:
        if self.recorder is None:
            return None
        finish(self.recorder, self.out)
        return str(self.out)


def start(pid: int, out: Path) -> subprocess.Popen[bytes]:
    pyspy = str(Path(sys.executable).parent / "py-spy")
    argv = [pyspy, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--nonblocking"]
    argv += ["--format", "raw", "--output", str(out)]
    return proc.spawn(argv, out.with_suffix(".log"))


def finish(recorder: subprocess.Popen[bytes], out: Path) -> Path:
    """Stop sampling (py-spy writes its file on SIGINT) and write the summary beside it."""
    recorder.send_signal(signal.SIGINT)
    recorder.wait(60)
    summary = out.with_suffix(".summary.txt")
    summary.write_text(summarize(out.read_text()))
    return summary


def _function(frame: str) -> str:
    """``persist_batch (shared/inbox.py:123)`` → ``persist_batch (shared/inbox.py)``; the line
    number splits a function into many rows, the file keeps same-named functions apart."""
    m = _LOCATION.search(frame)
    if not m:
        return frame
    path = m.group(1)
    for marker in ("site-packages/", "/work/"):
        path = path.split(marker, 1)[-1]
    return f"{frame[: m.start()]} ({path})"


def summarize(raw: str, top: int = 25) -> str:
    own: Counter[str] = Counter()
    on_stack: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_function(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for f in dict.fromkeys(frames):  # once per stack, in stack order (stable ties)
            on_stack[f] += n
    lines = [f"{total} samples at {RATE_HZ} Hz (CPU only; idle threads excluded)", ""]
    for title, counts in (("own time", own), ("on the stack (inclusive)", on_stack)):
        lines.append(f"-- top {top} by {title} --")
        for f, n in counts.most_common(top):
            lines.append(f"{100 * n / max(total, 1):5.1f}%  {f}")
        lines.append("")
    return "\n".join(lines)
