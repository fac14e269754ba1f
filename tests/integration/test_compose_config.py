"""compose.yml is valid for docker-compose, and wires the platform as README describes.

Runs Debian's docker-compose (installed by the command when missing): `config` parses,
validates against the Compose schema and resolves anchors and variables, with no engine.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from infra.cli import app
from infra.compose.secrets import SECRETS
from infra.compose.v1 import compose_argv, for_compose_v1, resolved_compose
from infra.paths import ROOT

PYTHON_SERVICES = ["secrets", "init", "publisher", "analytics", "billing", "audit"]
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


# (interval, retries): how long compose waits before it calls a service unhealthy — the broker
# 100 s (a cold KRaft format and start), PostgreSQL 60 s, each web process 60 s.
HEALTH = {"kafka": ("5s", 20), "postgres": ("2s", 30), **dict.fromkeys(LONG_RUNNING, ("5s", 12))}


def test_infra_and_long_running_services_have_healthchecks(services: dict[str, Any]) -> None:
    for name in ["kafka", "postgres", *LONG_RUNNING]:
        check = services[name].get("healthcheck", {})
        assert check.get("test", [None])[0] == "CMD-SHELL", name
        assert (check["interval"], check["retries"]) == HEALTH[name], name


def test_start_order_is_expressed_with_conditions(services: dict[str, Any]) -> None:
    assert "depends_on" not in services["secrets"]
    for name in ("kafka", "postgres"):  # each reads its passwords from the secrets' volumes
        assert services[name]["depends_on"] == {
            "secrets": {"condition": "service_completed_successfully"}
        }, name
    assert services["init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    for name in LONG_RUNNING:
        assert services[name]["depends_on"] == {
            "init": {"condition": "service_completed_successfully"}
        }, name
    assert services["init"]["restart"] == services["secrets"]["restart"] == "no"


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
    assert listeners == "INTERNAL://kafka:19092,HOST://localhost:19092"


def _config(tmp_path: Path, dotenv: str) -> dict[str, Any]:
    """`docker-compose --env-file FILE config` with no password in the environment."""
    text, project = for_compose_v1((ROOT / "compose.yml").read_text())
    env_file = tmp_path / "given.env"
    env_file.write_text(dotenv)
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    argv = compose_argv(project, "--env-file", str(env_file), "config")
    result = subprocess.run(argv, input=text, env=env, capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    return dict(yaml.safe_load(result.stdout)["services"])


def test_without_env_file_compose_needs_no_step_before_it(tmp_path: Path) -> None:
    """A fresh clone: no .env, no variable. `config` passes; the `secrets` service gets no
    value (it makes them); each URL carries none and names its file in its own volume."""
    services = _config(tmp_path, "")
    assert services["secrets"]["environment"] == dict.fromkeys(SECRETS, "")
    for name, url in _urls(services).items():
        assert re.fullmatch(r"postgresql://\w+:@postgres:5432/fanout", url), name
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == (
        "/run/secrets/fanout/postgres/password"
    )
    for name, secret in (("analytics", "analytics"), ("publisher", "reader")):
        assert services[name]["volumes"] == [  # its database password, its broker password
            f"secret-{secret}:/run/secrets/fanout/{secret}:ro",
            f"secret-kafka-{name}:/run/secrets/fanout/kafka-{name}:ro",
        ]


def test_values_in_env_file_reach_the_secrets_service_and_the_urls(tmp_path: Path) -> None:
    """The `.env` path (`./fanout env` writes one): its values win."""
    given = {name: f"pw-{secret}" for name, secret in SECRETS.items()}
    services = _config(tmp_path, "".join(f"{k}={v}\n" for k, v in given.items()))
    assert services["secrets"]["environment"] == given
    assert _urls(services) == {
        "init": "postgresql://postgres:pw-postgres@postgres:5432/fanout",
        "publisher": "postgresql://fanout_reader:pw-reader@postgres:5432/fanout",
        "analytics": "postgresql://analytics:pw-analytics@postgres:5432/fanout",
        "billing": "postgresql://billing:pw-billing@postgres:5432/fanout",
        "audit": "postgresql://audit:pw-audit@postgres:5432/fanout",
    }


def _urls(services: dict[str, Any]) -> dict[str, str]:
    env = {name: svc.get("environment", {}) for name, svc in services.items()}
    return {
        name: e.get("DATABASE_URL") or e["READER_DATABASE_URL"]
        for name, e in env.items()
        if "DATABASE_URL" in e or "READER_DATABASE_URL" in e
    }
