"""Cold is a tested state: the tier's engine and API service start where nothing exists yet.

A fresh machine has no containers home at all. The checkout's engine reads the machine-wide
image store as an additional store, which podman refuses while that folder is missing; this
check starts both in an empty home (no images needed) so a warm machine cannot hide it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.compose.stack import engine


def test_engine_and_api_service_start_in_an_empty_containers_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "containers"  # not created: as on a machine that never ran the tier
    monkeypatch.setenv("FANOUT_CONTAINERS_HOME", str(home))
    store, podman, api = engine(tmp_path / "tier")
    try:
        api.start()
        assert api.ping()
        assert podman.run("images", "--quiet").stdout == ""
        assert podman.ids("container") == podman.ids("volume") == []
        graphroots = [
            e.run("info", "--format", "{{.Store.GraphRoot}}").stdout for e in (store, podman)
        ]
        assert graphroots == [f"{home / 'storage'}\n", f"{podman.home / 'storage'}\n"]
    finally:
        api.stop()
        for run_dir in (store.run_dir, podman.run_dir):  # tmpfs folders of this home only
            shutil.rmtree(run_dir, ignore_errors=True)
