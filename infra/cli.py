"""``./fanout``: run, test and operate the platform."""

from __future__ import annotations

import typer

from infra import cli_dlq, cli_ops, cli_publish, cli_read, cli_stack

app = typer.Typer(
    help="fanout: one publisher, one Kafka topic, three idempotent services on PostgreSQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cli_stack.register(app)
cli_ops.register(app)
cli_read.register(app)
cli_publish.register(app)
cli_dlq.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
