"""``./fanout``: run, test and operate the platform; one module per command group."""

from __future__ import annotations

import typer

from infra.cli import bench, control, dlq, groups, publish, reconcile, scenario, stack, topics

app = typer.Typer(
    help="fanout: one publisher, one Kafka topic, three idempotent services on PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (stack, control, topics, groups, reconcile, dlq, publish, scenario, bench):
    module.register(app)


def main() -> None:
    app()
