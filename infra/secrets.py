"""Passwords for `docker compose up`: compose.yml names them, `.env` next to it holds them.

`./fanout env` writes that file once, with random values, readable by its owner only; it is
git-ignored and kept out of image build contexts (.dockerignore).
"""

from __future__ import annotations

import os
import secrets

from infra.compose import required_variables
from infra.compose_v1 import DOTENV


def random_passwords() -> dict[str, str]:
    """A fresh value for every variable compose.yml requires. Hex: safe inside URLs."""
    return {name: secrets.token_hex(16) for name in sorted(required_variables())}


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
