"""Ops commands: topics, groups, offsets, reconcile (the read side of the CLI)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
