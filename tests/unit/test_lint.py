"""The code base stays ruff- and mypy-clean: a regression fails the suite, not a review."""

from __future__ import annotations

import subprocess
import sys

from infra.paths import ROOT


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run("mypy", "shared", "services", "infra", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
