"""Passwords for `docker compose up`, made where they are used, never written in the repo.

compose.yml's one-shot ``secrets`` service runs ``python -m infra.compose.secrets
/run/secrets/fanout`` before anything else: for each password it keeps
``<folder>/<secret>/password`` (one volume per secret, so each process mounts only its own).
The value from the environment or `.env` wins when given; else the stored one stays; else a
new random one is made. `down -v` forgets
them with the data. `./fanout env` (optional) writes such values into a `.env` (mode 600,
git-ignored, kept out of image build contexts by .dockerignore).
"""

from __future__ import annotations

import os
import pwd
import secrets
import sys
from pathlib import Path

from infra.compose.v1 import DOTENV
from infra.settings import SecretsSettings

# Each password variable of compose.yml and the secret (volume, folder) that holds it.
SECRETS = {
    "POSTGRES_PASSWORD": "postgres",
    "ANALYTICS_DB_PASSWORD": "analytics",
    "BILLING_DB_PASSWORD": "billing",
    "AUDIT_DB_PASSWORD": "audit",
    "READER_DB_PASSWORD": "reader",
}
SERVICE_USER = "fanout"  # infra/Dockerfile's user: the processes that read the files


def random_password() -> str:
    return secrets.token_hex(16)  # hex: safe inside URLs


def random_passwords() -> dict[str, str]:
    """A fresh value for every password compose.yml uses."""
    return {name: random_password() for name in SECRETS}


def store_secret(path: Path, given: str, owner: int | None) -> str:
    """Keep one password file; say where its value came from: given, kept or generated."""
    if not given and path.is_file() and path.read_text().strip():
        return "kept"
    value, source = (given, "given") if given else (random_password(), "generated")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
    with os.fdopen(fd, "w") as out:
        out.write(value)
    if owner is not None:
        os.chown(tmp, owner, -1)
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one
    return source


def store_secrets(folder: Path, given: dict[str, str], owner: int | None) -> dict[str, str]:
    """Every password of compose.yml under ``folder``; returns each one's source."""
    return {
        name: store_secret(folder / secret / "password", given.get(name, ""), owner)
        for name, secret in SECRETS.items()
    }


def service_uid() -> int | None:
    """The services' user in the image; None outside it (the files stay the caller's)."""
    try:
        return pwd.getpwnam(SERVICE_USER).pw_uid
    except KeyError:
        return None


def main(argv: list[str]) -> None:
    folder = Path(argv[1] if len(argv) > 1 else "/run/secrets/fanout")
    sources = store_secrets(folder, SecretsSettings().given(), service_uid())
    for name, source in sources.items():
        print(f"secrets: {name} {source}", flush=True)  # never the value


def write_dotenv() -> bool:
    """Create .env (mode 600) with random passwords; False if one exists already."""
    try:
        fd = os.open(DOTENV, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as out:
        out.write("# Passwords for `docker compose up` (written by ./fanout env). Keep private.\n")
        out.writelines(f"{k}={v}\n" for k, v in random_passwords().items())
    return True


if __name__ == "__main__":
    main(sys.argv)
