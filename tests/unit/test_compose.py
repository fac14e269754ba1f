"""compose.yml is the one source of each process's command and environment."""

from __future__ import annotations

import yaml

from infra.compose import COMPOSE, INFRA_SERVICES, interpolate, load_specs, local_variables
from services.registry import LAYOUT


def test_interpolate_uses_value_then_default() -> None:
    assert interpolate("${A:-x}/${B:-y}", {"A": "a"}) == "a/y"
    assert interpolate("plain", {}) == "plain"


def test_local_runner_points_services_at_local_stack() -> None:
    variables = local_variables("127.0.0.1:29092", "127.0.0.1", 55433, 16066)
    specs = {s.name: s for s in load_specs(variables)}
    assert list(specs) == ["init", "publisher", "analytics", "billing", "audit"]
    assert specs["init"].one_shot and not specs["billing"].one_shot
    billing = specs["billing"].env
    assert billing["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29092"
    assert billing["DATABASE_URL"] == "postgresql://billing:billing@127.0.0.1:55433/fanout"
    assert [specs[n].web_port for n in ("publisher", "analytics", "billing", "audit")] == [
        16065,
        16066,
        16067,
        16068,
    ]


def test_compose_declares_the_registrys_processes_and_ports() -> None:
    """services/registry.py and compose.yml list the same processes, commands and ports."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    python = {n: s for n, s in services.items() if n not in INFRA_SERVICES and n != "init"}
    assert list(python) == [p.name for p in LAYOUT.processes]
    for process in LAYOUT.processes:
        svc = python[process.name]
        assert svc["command"] == ["python", "-m", f"services.{process.name}.app"]
        port = f"${{{process.name.upper()}_WEB_PORT:-{process.web_port}}}"
        assert svc["environment"]["WEB_PORT"] == port
