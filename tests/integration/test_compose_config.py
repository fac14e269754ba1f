"""compose.yml is valid for docker-compose, and wires the platform as README describes.

Runs Debian's docker-compose (installed by the command when missing): `config` parses,
validates against the Compose schema and resolves anchors and variables, with no engine.
"""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.cli_ops import resolved_compose
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
