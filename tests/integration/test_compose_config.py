"""compose.yml is valid for docker-compose, and wires the platform as README describes.

Runs Debian's docker-compose (installed by the command when missing): `config` parses,
validates against the Compose schema and resolves anchors and variables, with no engine.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.compose_v1 import compose_argv, for_compose_v1, resolved_compose
from infra.paths import ROOT

PYTHON_SERVICES = ["init", "publisher", "analytics", "billing", "audit"]
LONG_RUNNING = ["publisher", "analytics", "billing", "audit"]


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return resolved_compose()["services"]


def test_compose_check_accepts_compose_yml() -> None:
    result = CliRunner().invoke(app, ["compose-check"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "compose.yml: valid\n"


def test_every_service_is_defined(services: dict[str, Any]) -> None:
    assert sorted(services) == sorted(["kafka", "postgres", *PYTHON_SERVICES])


def test_infra_and_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    for name in ["kafka", "postgres", *LONG_RUNNING]:
        check = services[name].get("healthcheck", {})
        assert check.get("test", [None])[0] == "CMD-SHELL", name
        assert check["retries"] > 0 and check["interval"], name


def test_start_order_is_expressed_with_conditions(services: dict[str, Any]) -> None:
    assert services["init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    for name in LONG_RUNNING:
        assert services[name]["depends_on"] == {
            "init": {"condition": "service_completed_successfully"}
        }, name
    assert services["init"]["restart"] == "no"


def test_python_services_share_one_image_built_from_infra_dockerfile(
    services: dict[str, Any],
) -> None:
    for name in PYTHON_SERVICES:
        svc = services[name]
        assert svc["image"] == "fanout:latest", name
        assert svc["build"] == {"context": str(ROOT), "dockerfile": "infra/Dockerfile"}, name
        assert svc["command"][:2] == ["python", "-m"], name
    assert (ROOT / "infra" / "Dockerfile").is_file()


def test_published_ports_bind_to_loopback_unless_told_otherwise(services: dict[str, Any]) -> None:
    ports = {name: svc["ports"] for name, svc in services.items() if "ports" in svc}
    assert ports == {
        "kafka": ["127.0.0.1:9092:9092/tcp"],
        "postgres": ["127.0.0.1:55432:5432/tcp"],
        "publisher": ["127.0.0.1:6065:6065/tcp"],
        "analytics": ["127.0.0.1:6066:6066/tcp"],
        "billing": ["127.0.0.1:6067:6067/tcp"],
        "audit": ["127.0.0.1:6068:6068/tcp"],
    }
    wide = resolved_compose({"BIND_ADDRESS": "0.0.0.0", "KAFKA_PUBLISHED_PORT": "19092"})
    assert wide["services"]["kafka"]["ports"] == ["0.0.0.0:19092:9092/tcp"]
    listeners = wide["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert listeners == "PLAINTEXT://kafka:19092,HOST://localhost:19092"


def test_without_passwords_docker_compose_refuses_with_a_clear_message(tmp_path: Path) -> None:
    """No .env and no variables: compose stops before creating anything, and says why."""
    text, project = for_compose_v1((ROOT / "compose.yml").read_text())
    empty = tmp_path / "empty.env"
    empty.touch()
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    argv = compose_argv(project, "--env-file", str(empty), "config", "-q")
    result = subprocess.run(argv, input=text, env=env, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 1
    assert "set POSTGRES_PASSWORD in .env (./fanout env writes one)" in result.stderr
