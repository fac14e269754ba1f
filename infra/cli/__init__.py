"""``./fanout``: run, test and operate the platform; one module per command group."""

from __future__ import annotations

import typer

from infra.cli import bench, control, dlq, groups, publish, reconcile, scenario, stack, topics
from infra.kafka.credentials import CredentialStore
from infra.kafka.principals import OPERATOR
from infra.paths import state_root
from shared.kafka_auth import identity, sign_in

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
    when set, else `./fanout up`'s operator (its password file under .state/up)."""
    if identity() is None:
        store = CredentialStore(state_root() / "up" / "kafka" / "credentials")
        if store.path(OPERATOR).is_file():
            sign_in(store.auth(OPERATOR))


def main() -> None:
    app()
