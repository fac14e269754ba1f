"""Where things live: the repo, the git-ignored state folder and the download cache."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def state_root() -> Path:
    """All runtime state (broker data, database cluster, logs); delete it to reset."""
    return Path(os.environ.get("FANOUT_STATE_DIR", ROOT / ".state")).resolve()


def cache_dir() -> Path:
    """Downloads that survive a reset (Kafka jars)."""
    return state_root() / "cache"
