"""Fixtures of the fault-injection suite.

The session stack (tests/conftest.py) is shared: a test that stops the database or a broker
restarts it in its own ``finally``; ``infra_back_up`` checks it again after every test so one
failure never cascades into the next test. ``kafka3`` is a separate three-node KRaft cluster.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from infra.kafka.server import KafkaCluster
from infra.local.stack import Stack
from tests.support.processes import free_port_block


@pytest.fixture(autouse=True)
def infra_back_up(stack: Stack) -> Iterator[None]:
    yield
    pg = stack.postgres
    if pg is not None and (pg.process is None or pg.process.poll() is not None):
        pg.start()
    dead = [n for n in stack.kafka.members if n.process is None or n.process.poll() is not None]
    for node in dead:
        stack.kafka.start_node(node)
    if dead:
        stack.kafka.wait_ready()


@pytest.fixture
def kafka3(stack: Stack) -> Iterator[KafkaCluster]:
    """Three combined broker+controller nodes (node i on base + 2i, controller on the next port):
    FANOUT_TEST_KAFKA3_PORT, else the first free block 100 above the suite's broker."""
    base = int(os.environ.get("FANOUT_TEST_KAFKA3_PORT", "0")) or free_port_block(
        stack.settings.kafka_port + 100, 6
    )
    home = stack.home / f"kafka3-{uuid.uuid4().hex[:8]}"
    cluster = KafkaCluster(home, port=base, nodes=3, heap="384m")
    try:
        cluster.start(timeout=180)
        yield cluster
    finally:
        # Thrown away: killed, not stopped (a clean stop of the last node waits out a
        # controller quorum that has already left), and its data deleted.
        for node in cluster.members:
            cluster.kill_node(node)
        shutil.rmtree(home, ignore_errors=True)
