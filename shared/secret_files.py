"""Passwords given as files: the ``*_FILE`` convention of the official images.

`docker compose up` keeps each password in a volume of its own (compose.yml's ``secrets``
service writes them) and hands a process the file's path. A value given directly (a database
URL that carries its password, a non-empty ``NAME`` variable) wins over the file, so `.env`,
the environment and `./fanout up` (which passes every password in its URLs) keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit


class MissingSecret(RuntimeError):
    """A password is neither given nor in the file that should hold it."""


def read_secret(file: Path | str) -> str:
    """The file's content without its trailing newline (``echo`` or an editor may add one)."""
    path = Path(file)
    try:
        value = path.read_text().rstrip("\r\n")
    except OSError as exc:
        raise MissingSecret(f"cannot read the password file {path}: {exc.strerror}") from exc
    if not value:
        raise MissingSecret(f"the password file {path} is empty")
    return value


def with_password(url: str, file: Path | str | None) -> str:
    """``url`` as given when it carries a password (or no file is named); else with the file's."""
    parts = urlsplit(url)
    if parts.password or not file:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    netloc = f"{user}:{quote(read_secret(file), safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def fill_url_password(data: Any, url_field: str, file_field: str) -> Any:
    """For a settings model's ``mode="before"`` validator: ``url_field`` completed from the
    file ``file_field`` names (see ``with_password``); anything else is left as it is."""
    if not isinstance(data, dict) or not data.get(url_field) or not data.get(file_field):
        return data
    return {**data, url_field: with_password(str(data[url_field]), data[file_field])}


def env_secret(name: str, default: str) -> str:
    """``$NAME`` when set and non-empty, else the file ``$NAME_FILE`` names, else ``default``."""
    value = os.environ.get(name)
    if value:
        return value
    file = os.environ.get(f"{name}_FILE")
    return read_secret(file) if file else default


def derived_password(secret: str, role: str) -> str:
    """A role's password on a cluster whose superuser password is ``secret`` (the local
    runner's): HMAC-SHA256, so it is as random as that secret, differs per cluster and per
    role, and reveals nothing a superuser could not do anyway; each holder of the admin
    password finds it again without a second file to keep in step."""
    return hmac.new(secret.encode(), f"fanout-role:{role}".encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def role_secret(name: str, role: str, admin_password: str) -> str:
    """A role's password for the migrations: ``$NAME`` or its file when given (compose's
    secrets), else the one derived from the admin password (the local runner)."""
    return env_secret(name, derived_password(admin_password, role))
