"""`docker compose up` with no step before it: the `secrets` service's passwords, and how each
process reads them (the `*_FILE` convention; a value given directly wins)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml

from infra.compose.secrets import SECRETS, store_secrets
from infra.compose.spec import COMPOSE
from infra.settings import InitSettings, SecretsSettings
from shared.secret_files import MissingSecret, env_secret, with_password
from shared.settings import PublisherSettings, ServiceSettings


def _stored(folder: Path) -> dict[str, str]:
    return {name: (folder / s / "password").read_text() for name, s in SECRETS.items()}


def test_first_start_generates_every_password_and_later_starts_keep_them(tmp_path: Path) -> None:
    assert store_secrets(tmp_path, {}, None) == dict.fromkeys(SECRETS, "generated")
    first = _stored(tmp_path)
    assert len(set(first.values())) == 5
    assert all(re.fullmatch("[0-9a-f]{32}", v) for v in first.values())
    for name, secret in SECRETS.items():
        mode = (tmp_path / secret / "password").stat().st_mode
        assert stat.S_IMODE(mode) == 0o400, name
    assert store_secrets(tmp_path, dict.fromkeys(SECRETS, ""), None) == dict.fromkeys(
        SECRETS, "kept"
    )
    assert _stored(tmp_path) == first


def test_a_value_from_env_or_dotenv_wins_over_the_stored_one(tmp_path: Path) -> None:
    store_secrets(tmp_path, {}, None)
    before = _stored(tmp_path)
    sources = store_secrets(tmp_path, {"BILLING_DB_PASSWORD": "from .env"}, None)
    assert sources == {**dict.fromkeys(SECRETS, "kept"), "BILLING_DB_PASSWORD": "given"}
    assert _stored(tmp_path) == {**before, "BILLING_DB_PASSWORD": "from .env"}


def test_the_secrets_settings_take_exactly_the_variables_compose_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = yaml.safe_load(COMPOSE.read_text())["services"]["secrets"]
    assert set(service["environment"]) == set(SECRETS)
    mounts = [f"secret-{s}:/run/secrets/fanout/{s}" for s in SECRETS.values()]
    assert service["volumes"] == mounts
    monkeypatch.setenv("AUDIT_DB_PASSWORD", "a")
    assert SecretsSettings().given() == {**dict.fromkeys(SECRETS, ""), "AUDIT_DB_PASSWORD": "a"}


def test_a_url_without_password_takes_the_files(tmp_path: Path) -> None:
    file = tmp_path / "password"
    file.write_text("p@ss/w rd\n")  # a trailing newline is not part of it
    url = "postgresql://billing:@postgres:5432/fanout"
    assert with_password(url, file) == "postgresql://billing:p%40ss%2Fw%20rd@postgres:5432/fanout"
    assert with_password("postgresql://billing@db/fanout", file).startswith(
        "postgresql://billing:p%40"
    )
    given = "postgresql://billing:given@postgres:5432/fanout"
    assert with_password(given, file) == given
    assert with_password(url, None) == url
    with pytest.raises(MissingSecret, match="cannot read the password file .*/absent"):
        with_password(url, tmp_path / "absent")


def test_each_process_reads_its_password_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("s3cret")
    for var in ("DATABASE_URL", "READER_DATABASE_URL"):
        monkeypatch.setenv(var, "postgresql://someone:@postgres:5432/fanout")
        monkeypatch.setenv(var.replace("_URL", "_PASSWORD_FILE"), str(tmp_path / "pw"))
    monkeypatch.setenv("SERVICE_NAME", "billing")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:19092")
    expected = "postgresql://someone:s3cret@postgres:5432/fanout"
    assert ServiceSettings().database_url == expected  # type: ignore[call-arg]
    assert InitSettings().database_url == expected  # type: ignore[call-arg]
    assert PublisherSettings().reader_database_url == expected


def test_migrations_take_a_role_password_from_its_variable_then_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pw").write_text("from-file\n")
    monkeypatch.delenv("AUDIT_DB_PASSWORD", raising=False)
    monkeypatch.delenv("AUDIT_DB_PASSWORD_FILE", raising=False)
    assert env_secret("AUDIT_DB_PASSWORD", "audit") == "audit"
    monkeypatch.setenv("AUDIT_DB_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("AUDIT_DB_PASSWORD", "")  # compose's ${AUDIT_DB_PASSWORD:-}, unset
    assert env_secret("AUDIT_DB_PASSWORD", "audit") == "from-file"
    monkeypatch.setenv("AUDIT_DB_PASSWORD", "given")
    assert env_secret("AUDIT_DB_PASSWORD", "audit") == "given"
