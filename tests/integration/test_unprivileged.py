"""Root only sets up: the broker and the services of a started stack run as the system user
``fanout`` (PostgreSQL as ``postgres``), each writing only folders it owns."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from infra.local.stack import Stack
from infra.local.users import SERVICE_USER
from tests.support.kafka import new_topic
from tests.support.processes import running_services


def uid_of(pid: int) -> int:
    """The real uid of ``pid`` (the first of /proc's Uid line: real, effective, saved, fs)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            uids = {int(u) for u in line.split()[1:]}
            assert len(uids) == 1, f"pid {pid} has mixed uids {uids}"
            return uids.pop()
    raise AssertionError(f"no Uid line for pid {pid}")


def test_broker_and_services_do_not_run_as_root(stack: Stack) -> None:
    assert os.geteuid() == 0, "this checks what root's `./fanout up` does: run it as root"
    fanout = pwd.getpwnam(SERVICE_USER).pw_uid
    assert stack.account is not None and stack.account.uid == fanout != 0
    brokers = [n.process.pid for n in stack.kafka.members if n.process is not None]
    assert [uid_of(pid) for pid in brokers] == [fanout] * len(stack.kafka.members)
    assert stack.postgres is not None and stack.postgres.process is not None
    assert uid_of(stack.postgres.process.pid) == pwd.getpwnam("postgres").pw_uid
    for node in stack.kafka.members:  # its data is its own; its config and log stay root's
        assert (node.data.stat().st_uid, node.home.stat().st_uid) == (fanout, 0)
    topic = new_topic(stack.bootstrap, "unprivileged", 1)
    with running_services(stack, topic, ("publisher", "billing")) as procs:
        procs["billing"].wait_assigned(1)
        pids = {name: p.process.pid for name, p in procs.items() if p.process is not None}
        assert {name: uid_of(pid) for name, pid in pids.items()} == {
            "publisher": fanout,
            "billing": fanout,
        }
