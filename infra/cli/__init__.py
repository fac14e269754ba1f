"""``./fanout``: run, test and operate the platform; one module per command group."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from infra.cli import bench, control, dlq, groups, publish, reconcile, scenario, stack, topics
from infra.kafka.credentials import sign_in_operator
from infra.paths import state_root
from shared.kafka_auth import identity

app = typer.Typer(
    help="fanout: one publisher, one Kafka topic, three idempotent services on PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (stack, control, topics, groups, reconcile, dlq, publish, scenario, bench):
    module.register(app)


@app.callback()
def _operator() -> None:
    """The CLI is the broker's operator: the environment's principal (KAFKA_USERNAME, ...)
    when set, else the operator of the stack this process belongs to (FANOUT_STACK_HOME: a
    test's CLI run), else `./fanout up`'s (its password file under .state/up)."""
    if identity() is None:
        sign_in_operator(Path(os.environ.get("FANOUT_STACK_HOME") or state_root() / "up"))


def main() -> None:
    app()
