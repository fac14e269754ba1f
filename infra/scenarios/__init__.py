"""Guided scenarios (`./fanout scenario`, the overview's Scenarios panel): the engine in
``engine.py``, the platform's controls in ``platform.py``, one file per scenario in ``play/``."""

from __future__ import annotations

import importlib
import pkgutil

from infra.scenarios import play
from infra.scenarios.engine import Scenario
from infra.scenarios.platform import Platform


def catalog() -> dict[str, Scenario[Platform]]:
    """Every scenario in ``play/``, in the order of their numbers: a new file is a new
    scenario, with no list to edit."""
    found: list[Scenario[Platform]] = [
        importlib.import_module(f"{play.__name__}.{m.name}").SCENARIO
        for m in pkgutil.iter_modules(play.__path__)
    ]
    return {s.name: s for s in sorted(found, key=lambda s: s.number)}
