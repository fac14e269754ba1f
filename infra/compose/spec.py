"""compose.yml is the one definition of each process's command and environment.

The local runner (``./fanout up`` and the tests) reads it and interpolates ``${VAR:-default}``
with local addresses, exactly as ``docker compose`` would with its own environment.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.paths import ROOT
from services.registry import LAYOUT
from shared.schema import READER_ROLE
from shared.secret_files import derived_password

COMPOSE = ROOT / "compose.yml"
INFRA_SERVICES = {"kafka", "postgres"}  # run natively by infra/, not from an image
# compose's alone: the local runner passes every password in its URLs (its database listens
# on 127.0.0.1 only), so it needs no secret files.
COMPOSE_ONLY = {"secrets"}
# ${NAME}, ${NAME:-default} and ${NAME:?error}: the forms compose.yml uses.
_VAR = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")
# Each role's password variable of compose.yml, and the role. Under compose its `secrets`
# service makes them; the local runner derives them from its cluster's random superuser
# password (shared/secret_files.py), so none is ever a role's name.
ROLE_PASSWORDS = {
    "ANALYTICS_DB_PASSWORD": "analytics",
    "BILLING_DB_PASSWORD": "billing",
    "AUDIT_DB_PASSWORD": "audit",
    "READER_DB_PASSWORD": READER_ROLE,
}


def local_role_passwords(admin_password: str) -> dict[str, str]:
    """The local runner's role passwords, variable by variable."""
    return {var: derived_password(admin_password, r) for var, r in ROLE_PASSWORDS.items()}


class MissingVariable(ValueError):
    """A ${NAME:?message} variable of compose.yml has no value."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    one_shot: bool
    restart: str = "no"  # compose's restart policy, which the supervisor follows

    @property
    def web_port(self) -> int | None:
        port = self.env.get("WEB_PORT")
        return int(port) if port else None


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Like compose: a set, non-empty value wins; else the default, or the error."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        if variables.get(name):
            return variables[name]
        if op == ":?":
            raise MissingVariable(f"{name}: {arg}")
        return arg if op == ":-" else variables.get(name, "")

    return _VAR.sub(one, value)


def variables_used(path: Path = COMPOSE) -> dict[str, str | None]:
    """Every ${...} name compose.yml uses, with its operator (None: plain ${NAME})."""
    return {m.group(1): m.group(2) for m in _VAR.finditer(path.read_text())}


def secret_variables(path: Path = COMPOSE) -> set[str]:
    """The passwords compose.yml's ``secrets`` service takes (from the environment or .env)."""
    return set(yaml.safe_load(path.read_text())["services"]["secrets"]["environment"])


def load_specs(variables: Mapping[str, str], path: Path = COMPOSE) -> list[ServiceSpec]:
    """Every Python process of compose.yml, in file order (init first)."""
    doc = yaml.safe_load(path.read_text())
    specs = []
    for name, svc in doc["services"].items():
        if name in INFRA_SERVICES | COMPOSE_ONLY:
            continue
        argv = [sys.executable if a == "python" else a for a in svc["command"]]
        env = {k: interpolate(str(v), variables) for k, v in svc.get("environment", {}).items()}
        policy = str(svc.get("restart", "no"))
        specs.append(ServiceSpec(name, argv, env, one_shot=policy == "no", restart=policy))
    return specs


def infra_policies(path: Path = COMPOSE) -> dict[str, str]:
    """compose.yml's restart policy of ``kafka`` and ``postgres`` ("no" when none is set, as
    compose has it): the local runner supervises its own broker and database by them."""
    services = yaml.safe_load(path.read_text())["services"]
    return {name: str(services[name].get("restart", "no")) for name in sorted(INFRA_SERVICES)}


def local_variables(
    bootstrap: str,
    pg_host: str,
    pg_port: int,
    web_base: int,
    partitions: int = 6,
    replication: int = 1,
    admin_password: str = "",
) -> dict[str, str]:
    """Values for compose.yml's ${...} that point the processes at the local stack; the
    dashboards keep the registry's layout, moved so the first service serves on ``web_base``."""
    first = LAYOUT.services[0].name
    ports = LAYOUT.ports(first, web_base)
    return {
        "POSTGRES_PASSWORD": admin_password,
        **local_role_passwords(admin_password),
        "FANOUT_PARTITIONS": str(partitions),
        "FANOUT_REPLICATION": str(replication),
        "KAFKA_BOOTSTRAP": bootstrap,
        "POSTGRES_HOST": pg_host,
        "POSTGRES_PORT": str(pg_port),
        "WEB_BIND": "127.0.0.1",
        **{port_variable(name): str(port) for name, port in ports.items()},
    }


def port_variable(process: str) -> str:
    """compose.yml's variable for a process's dashboard port: ``${BILLING_WEB_PORT:-6067}``."""
    return f"{process.upper()}_WEB_PORT"
