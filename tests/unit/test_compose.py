"""compose.yml is the one source of each process's command and environment."""

from __future__ import annotations

import re

import pytest
import yaml

from infra.compose.spec import (
    COMPOSE,
    COMPOSE_ONLY,
    INFRA_SERVICES,
    ROLE_PASSWORDS,
    MissingVariable,
    interpolate,
    load_specs,
    local_variables,
    secret_variables,
)
from infra.kafka import principals
from infra.paths import ROOT
from services.registry import LAYOUT
from shared.secret_files import derived_password


def test_interpolate_uses_value_then_default() -> None:
    assert interpolate("${A:-x}/${B:-y}", {"A": "a"}) == "a/y"
    assert interpolate("${A:-x}", {"A": ""}) == "x"  # empty counts as unset, as in compose
    assert interpolate("plain", {}) == "plain"


def test_interpolate_refuses_a_missing_required_variable() -> None:
    assert interpolate("${P:?set P}", {"P": "v"}) == "v"
    with pytest.raises(MissingVariable, match="P: set P in .env"):
        interpolate("x ${P:?set P in .env} y", {})


def test_compose_yml_holds_no_password() -> None:
    """Every password is a variable with no default (the environment or .env may give it; the
    `secrets` service makes the rest), or a file in a secret volume: never a value."""
    assert secret_variables() == {
        "POSTGRES_PASSWORD",
        "ANALYTICS_DB_PASSWORD",
        "BILLING_DB_PASSWORD",
        "AUDIT_DB_PASSWORD",
        "READER_DB_PASSWORD",
        *(f"{p.upper()}_KAFKA_PASSWORD" for p in principals.ALL),
    }
    text = (ROOT / "compose.yml").read_text()
    values = re.findall(r"(\w*PASSWORD\w*): (\S+)", text)
    files = [name for name, _ in values if name.endswith("_FILE")]
    # secrets' 5 + 8, init's 4 + 6 (the operator's and the 5 SCRAM users'), each Python
    # process's KAFKA_PASSWORD (4); files: 10 of the database, 6 of init's, 4 KAFKA_PASSWORD_FILE
    assert (len(values) - len(files), len(files)) == (13 + 10 + 4, 20)
    for name, value in values:
        if name.endswith("_FILE"):
            assert re.fullmatch(r"/run/secrets/fanout/[\w-]+/password", value), name
        elif name == "KAFKA_PASSWORD":  # a process's own principal's
            assert re.fullmatch(r"\$\{[A-Z]+_KAFKA_PASSWORD:-\}", value), value
        else:
            assert value == f"${{{name}:-}}", name
    urls = re.findall(r"postgresql://(\w+):([^@\n]*)@", text)
    assert len(urls) == 5  # init (superuser), publisher's reader, the three services
    for user, password in urls:
        assert re.fullmatch(r"\$\{\w+_PASSWORD:-\}", password), f"{user}'s password in compose.yml"


def test_local_runner_points_services_at_local_stack() -> None:
    variables = local_variables("127.0.0.1:29092", "127.0.0.1", 55433, 16066, admin_password="pw")
    specs = {s.name: s for s in load_specs(variables)}
    assert list(specs) == ["init", "publisher", "analytics", "billing", "audit"]
    assert specs["init"].one_shot and not specs["billing"].one_shot
    assert specs["init"].env["DATABASE_URL"] == "postgresql://postgres:pw@127.0.0.1:55433/fanout"
    billing = specs["billing"].env
    assert billing["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29092"
    password = derived_password("pw", "billing")
    assert billing["DATABASE_URL"] == f"postgresql://billing:{password}@127.0.0.1:55433/fanout"
    assert [specs[n].web_port for n in ("publisher", "analytics", "billing", "audit")] == [
        16065,
        16066,
        16067,
        16068,
    ]


def test_local_role_passwords_are_random_per_cluster_never_the_role_names() -> None:
    first = local_variables("k:1", "h", 1, 16066, admin_password="a" * 32)
    second = local_variables("k:1", "h", 1, 16066, admin_password="b" * 32)
    values = {var: first[var] for var in ROLE_PASSWORDS}
    assert set(ROLE_PASSWORDS) <= set(first)
    for var, role in ROLE_PASSWORDS.items():
        assert re.fullmatch(r"[0-9a-f]{32}", values[var]), var
        assert role not in values[var] and values[var] != second[var], var
    assert len(set(values.values())) == len(ROLE_PASSWORDS)  # one per role


def test_compose_declares_the_registrys_processes_and_ports() -> None:
    """services/registry.py and compose.yml list the same processes, commands and ports."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    not_processes = INFRA_SERVICES | COMPOSE_ONLY | {"init"}
    python = {n: s for n, s in services.items() if n not in not_processes}
    assert list(python) == [p.name for p in LAYOUT.processes]
    for process in LAYOUT.processes:
        svc = python[process.name]
        assert svc["command"] == ["python", "-m", f"services.{process.name}.app"]
        port = f"${{{process.name.upper()}_WEB_PORT:-{process.web_port}}}"
        assert svc["environment"]["WEB_PORT"] == port
