"""The profile summary ranks functions by own and inclusive samples from py-spy's raw output."""

from __future__ import annotations

from infra.bench.profile import summarize

RAW = """\
run (shared/app.py:10);step (shared/consumer.py:120);classify (shared/events.py:90) 6
run (shared/app.py:10);step (shared/consumer.py:121);persist_batch (shared/inbox.py:130) 3
run (shared/app.py:10);step (shared/consumer.py:120);classify (shared/events.py:95) 1
"""


def test_summary_merges_lines_of_one_function_and_ranks_by_samples() -> None:
    text = summarize(RAW, top=3)
    lines = text.splitlines()
    assert lines[0].startswith("10 samples")
    own = lines[lines.index("-- top 3 by own time --") + 1 :][:2]
    assert own == [
        " 70.0%  classify (shared/events.py)",
        " 30.0%  persist_batch (shared/inbox.py)",
    ]
    inclusive = lines[lines.index("-- top 3 by on the stack (inclusive) --") + 1 :][:3]
    assert inclusive[:2] == [
        "100.0%  run (shared/app.py)",
        "100.0%  step (shared/consumer.py)",
    ]
    assert inclusive[2] == " 70.0%  classify (shared/events.py)"


def test_site_packages_paths_are_shortened() -> None:
    raw = "f (/x/.venv/lib/python3.11/site-packages/psycopg/copy.py:5) 2\n"
    assert "100.0%  f (psycopg/copy.py)" in summarize(raw)
