"""The compose tier: compose.yml and infra/Dockerfile, unchanged, run by docker-compose in a
real container engine (Debian's podman here). Package-scoped: it is up for this folder's
tests only and gone (`down -v`) before the browser tests start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.paths import state_root
from tests.compose.stack import Tier, compose_tier


@pytest.fixture(scope="package")
def tier() -> Iterator[Tier]:
    with compose_tier(state_root() / "compose") as t:
        yield t
