"""The unprivileged OS user `./fanout up` runs the broker, the publisher and the services as.

Root only sets up: it makes the system user ``fanout`` when missing (the image's user of the
same name, infra/Dockerfile), the folders that user may write (broker data, the services'
working folder, the scenario requests), and opens the log files. PostgreSQL drops to
``postgres`` on its own (infra/postgres/server.py). Nothing root does afterwards follows a
link in a folder the user owns: a folder is handed over with ``fchown`` through directory
file descriptors (``os.fwalk``), never by path, and only while it is still root's (so nothing
in it can have been planted).

When the user cannot reach the checkout's Python, its code or the state folder (a pyenv
interpreter or a clone in root's home, mode 700), it is given search permission (an ACL
entry ``u:fanout:x``: pass through, not list) on the folders in the way, and told so; if even
that fails, the processes run as root, with a warning. Not root: nothing changes.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.system import ensure_command
from infra.paths import ROOT

SERVICE_USER = "fanout"
NOLOGIN = "/usr/sbin/nologin"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int

    def popen(self) -> dict[str, Any]:
        """subprocess.Popen/run arguments that run the child as this user, no extra groups."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def ensure_user(name: str = SERVICE_USER) -> Account:
    """The system user ``name`` (created, with a group of its own, no home, no shell)."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", NOLOGIN, name],
            check=True, capture_output=True,
        )  # fmt: skip
        pw = pwd.getpwnam(name)
    return Account(name, pw.pw_uid, pw.pw_gid)


def reachable(account: Account) -> bool:
    """Can the account run this checkout's Python and import its code? Tried, not guessed
    (ACLs, a pyenv interpreter in root's home, a clone in a private folder)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import infra, services, shared"],
            cwd=ROOT, capture_output=True, timeout=120, **account.popen(),
        )  # fmt: skip
    except OSError:
        return False  # the interpreter itself is out of its reach
    return done.returncode == 0


def grant_search(account: Account, paths: list[Path]) -> list[Path]:
    """Search permission (x: pass through, not list) for the account on each folder above
    ``paths`` that others may not pass; the folders granted."""
    granted = []
    for path in paths:
        for folder in reversed(path.parents):
            st = folder.stat()
            if st.st_mode & stat.S_IXOTH or st.st_uid == account.uid:
                continue
            setfacl = ensure_command("setfacl", "acl")
            subprocess.run([setfacl, "-m", f"u:{account.name}:x", str(folder)], check=True)
            granted.append(folder)
    return granted


def service_account(home: Path) -> Account | None:
    """Whom the broker and the services of the stack in ``home`` run as: None (the caller)
    unless we are root; else ``fanout``, given search permission on what lies on its way to
    the checkout's Python, the code and the state folder; root only if even that fails."""
    if os.geteuid() != 0 or os.environ.get("FANOUT_RUN_AS_ROOT") == "1":
        return None
    account = ensure_user()
    if not reachable(account):
        granted = grant_search(account, [Path(sys.executable).resolve(), ROOT, home])
        if granted:
            print(
                f"fanout: gave the {account.name} user search permission (x: it cannot list "
                f"them) on {', '.join(map(str, granted))}, to reach the Python and the code; "
                f"`setfacl -x u:{account.name} FOLDER` takes it back",
                file=sys.stderr,
            )
    if not reachable(account):
        print(
            f"fanout: the {account.name} user cannot run {sys.executable} in {ROOT}: the broker "
            "and the services run as root",
            file=sys.stderr,
        )
        return None
    return account


def owned_folder(path: Path, account: Account | None) -> Path:
    """``path`` as a real folder the account owns (made if missing; a link in its place is
    refused). A tree still root's (an older layout) is handed over whole, bottom up, the top
    last, through directory descriptors: no link in it is followed."""
    path.mkdir(parents=True, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise RuntimeError(f"{path} is not a folder (a link?): refusing to use it")
    if account is None or (st.st_uid, st.st_gid) == (account.uid, account.gid):
        return path  # theirs already: what is inside is theirs to keep
    if st.st_uid != 0:
        raise RuntimeError(f"{path} belongs to uid {st.st_uid}: refusing to hand it over")
    for _, dirs, files, fd in os.fwalk(path, topdown=False, follow_symlinks=False):
        for entry in (*dirs, *files):
            os.chown(entry, account.uid, account.gid, dir_fd=fd, follow_symlinks=False)
    os.chown(path, account.uid, account.gid, follow_symlinks=False)
    return path
