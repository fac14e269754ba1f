"""One definition stays one: `./fanout up` (infra/compose/spec.py + the supervisor) and
`docker compose up` must run the same services with the same commands and environment.

docker-compose resolves compose.yml with the very variables the local runner uses; the local
runner's reading of the file must give the same result, service by service."""

from __future__ import annotations

import sys

from infra.compose.spec import (
    COMPOSE_ONLY,
    INFRA_SERVICES,
    load_specs,
    local_variables,
    secret_variables,
    variables_used,
)
from infra.compose.v1 import resolved_compose
from infra.kafka import principals
from infra.local.stack import kafka_password_variable

VARIABLES = {
    **local_variables("127.0.0.1:29092", "127.0.0.1", 25433, 16066, 6, 1, "s3cret"),
    # The broker's passwords, as the supervisor adds them (Stack.kafka_variables).
    **{kafka_password_variable(p): f"pw-{p}" for p in principals.ALL},
}


def test_local_runner_and_docker_compose_see_the_same_services() -> None:
    resolved = resolved_compose(VARIABLES)["services"]
    specs = load_specs(VARIABLES)
    assert set(resolved) == {s.name for s in specs} | INFRA_SERVICES | COMPOSE_ONLY
    for spec in specs:
        svc = resolved[spec.name]
        assert [("python" if a == sys.executable else a) for a in spec.argv] == svc["command"]
        assert spec.env == {k: str(v) for k, v in svc["environment"].items()}, spec.name
        # The supervisor restarts every process but the one-shot, as compose's policy does.
        assert svc["restart"] == ("no" if spec.one_shot else "unless-stopped"), spec.name


def test_local_runner_sets_every_variable_compose_requires() -> None:
    """Every password in the URLs: the local runner has no secret files to fall back on."""
    assert secret_variables() <= set(VARIABLES)
    assert set(VARIABLES) <= set(variables_used()), "the local runner sets a variable no one uses"
