"""Read-side CLI commands: reconcile (published vs persisted per service)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    del app
