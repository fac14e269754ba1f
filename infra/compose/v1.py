"""Debian's docker-compose 1.29 on compose.yml: ``config`` (validation, no engine needed) and
the argv every other command shares (the compose tier runs ``up``/``down`` with it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import yaml

from infra.compose.spec import COMPOSE
from infra.local.system import apt_install
from infra.paths import ROOT

_TOP_LEVEL_NAME = re.compile(r"^name:.*\n", re.MULTILINE)
DOTENV = ROOT / ".env"


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        # Recommends would add docker.io (a daemon, containerd, iptables): `config` needs none.
        apt_install("--no-install-recommends", "docker-compose")
        found = shutil.which("docker-compose")
    if found is None:
        raise RuntimeError("docker-compose still missing after installing it")
    return found


def for_compose_v1(text: str) -> tuple[str, str | None]:
    """compose.yml for Debian's docker-compose 1.29, which predates the top-level ``name:``
    key of the Compose spec: that line goes, its value is passed as ``-p`` (the very thing
    it means). Everything else is validated as written (anchors, merge keys, conditions)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return text, None  # docker-compose reports it, with the line
    name = doc.get("name") if isinstance(doc, dict) else None
    return _TOP_LEVEL_NAME.sub("", text), (str(name) if name is not None else None)


def compose_argv(project: str | None, *args: str) -> list[str]:
    """Reads compose.yml from stdin, so relative paths (build context) resolve against the
    project directory: the repo root."""
    argv = [docker_compose(), "--project-directory", str(ROOT), "-f", "-"]
    return [*argv, "-p", project, *args] if project else [*argv, *args]


def docker_compose_config(
    quiet: bool = False, variables: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` on compose.yml (installed from Debian when missing). Only the
    stand-alone binary: the `docker compose` plugin is not part of the client on this machine."""
    text, project = for_compose_v1(COMPOSE.read_text())
    argv = compose_argv(project, "config", *(["-q"] if quiet else []))
    return subprocess.run(
        argv,
        input=text,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={**os.environ, **(variables or {})},
    )


def resolved_compose(variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """compose.yml as docker-compose resolves it (anchors merged, variables filled in)."""
    result = docker_compose_config(variables=variables)
    if result.returncode != 0:
        raise RuntimeError(f"docker-compose config failed:\n{result.stderr}")
    return yaml.safe_load(result.stdout)
