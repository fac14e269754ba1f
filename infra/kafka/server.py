"""A real Apache Kafka broker (KRaft, combined broker+controller) from Maven Central jars.

One node by default; ``nodes=3`` gives a three-node quorum. Node i listens for clients on
``port + 2*i`` and for the controller quorum on the next port.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka import principals
from infra.kafka.credentials import CredentialStore, write_private
from infra.kafka.sasl import security_properties
from infra.local import proc
from infra.local.system import ensure_command
from infra.local.users import Account, owned_folder
from infra.paths import ROOT, cache_dir
from infra.polling import GiveUp, wait_for
from shared.kafka_auth import KafkaAuth

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOG4J = HERE / "log4j2.properties"
DEFAULT_VERSION = "4.4.0"  # also the pom's default; see README for why this version


def kafka_version() -> str:
    return os.environ.get("FANOUT_KAFKA_VERSION", DEFAULT_VERSION)


def ensure_jars(version: str | None = None) -> Path:
    """Resolve kafka_2.13 and its runtime dependencies with mvn into the cache (once)."""
    version = version or kafka_version()
    libs = cache_dir() / f"kafka-{version}" / "libs"
    done = libs / ".complete"
    if done.exists():
        return libs
    mvn = ensure_command("mvn", "maven")
    ensure_command("java", "openjdk-17-jre-headless")
    print(f"fanout: resolving Apache Kafka {version} jars from Maven Central (first run only)")
    if libs.exists():
        shutil.rmtree(libs)
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={version}",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"mvn could not resolve Kafka {version}:\n{result.stdout[-4000:]}")
    done.touch()
    return libs


def ensure_tool_jar(version: str | None = None) -> Path:
    """kafka-tools (kafka-topics' TopicCommand), which the broker's dependencies do not
    include; only the container stand-in of apache/kafka needs it (its healthcheck)."""
    version = version or kafka_version()
    jar = cache_dir() / f"kafka-{version}" / "tools" / f"kafka-tools-{version}.jar"
    if jar.exists():
        return jar
    mvn = ensure_command("mvn", "maven")
    result = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact=org.apache.kafka:kafka-tools:{version}",
            f"-DoutputDirectory={jar.parent}",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0 or not jar.exists():
        raise RuntimeError(f"mvn could not fetch kafka-tools {version}:\n{result.stdout[-4000:]}")
    return jar


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    home: Path
    voters: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.home / "broker.log"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self, nodes: int, store: CredentialStore) -> Path:
        rf = min(3, nodes)
        props = {
            "process.roles": "broker,controller",
            "node.id": self.node_id,
            "controller.quorum.voters": self.voters,
            "listeners": f"CLIENT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            **security_properties(store, ["CLIENT"]),
            "log.dirs": self.data,
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": 12,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": min(2, nodes),
            "min.insync.replicas": 1,
            "group.initial.rebalance.delay.ms": 0,
            # Topics are created explicitly with their partition count; never by accident.
            "auto.create.topics.enable": "false",
            "num.partitions": 6,
        }
        path = self.home / "server.properties"
        # Mode 600: it holds the static principals' passwords.
        write_private(path, "".join(f"{k}={v}\n" for k, v in props.items()))
        return path


@dataclass
class KafkaCluster:
    home: Path
    port: int = 9092
    nodes: int = 1
    heap: str = "512m"
    members: list[KafkaNode] = field(default_factory=list)
    # The broker's passwords; its own unless shared (a test's second cluster serves the same
    # principals as the suite's broker).
    store: CredentialStore | None = None
    account: Account | None = None  # the OS user the nodes run as (None: the caller)

    def __post_init__(self) -> None:
        self.store = self.store or CredentialStore(self.home / "credentials")
        ports = [(i + 1, self.port + 2 * i, self.port + 2 * i + 1) for i in range(self.nodes)]
        voters = ",".join(f"{nid}@127.0.0.1:{cport}" for nid, _, cport in ports)
        self.members = [
            KafkaNode(nid, p, cp, self.home / f"node-{nid}", voters) for nid, p, cp in ports
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.members)

    @property
    def credentials(self) -> CredentialStore:
        assert self.store is not None
        return self.store

    def _cluster_id(self) -> str:
        path = self.home / "cluster.id"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            raw = "-"
            while raw.startswith("-"):  # kafka-storage would read "-…" as an option (1 in 64)
                raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            path.write_text(raw)
        return path.read_text().strip()

    def _java(self, libs: Path, *args: str) -> list[str]:
        return ["java", f"-Dlog4j2.configurationFile={LOG4J}", "-cp", f"{libs}/*", *args]

    def format(self, libs: Path) -> None:
        """Format each node's storage once; a formatted node keeps its data across restarts."""
        cid = self._cluster_id()
        for node in self.members:
            node.home.mkdir(parents=True, exist_ok=True)
            cfg = node.write_config(self.nodes, self.credentials)
            readable_by(cfg, self.account)  # it holds the broker's passwords: read, never write
            owned_folder(node.data, self.account)  # the node's only writable folder
            if (node.data / "meta.properties").exists():
                continue
            subprocess.run(
                self._java(libs, "kafka.tools.StorageTool", "format", "-t", cid, "-c", str(cfg)),
                check=True,
                capture_output=True,
                cwd=node.data,
                **self._as_account(),
            )

    def _as_account(self) -> dict[str, Any]:
        return self.account.popen() if self.account is not None else {}

    def start(self, timeout: float = 90.0) -> None:
        libs = ensure_jars()
        self.format(libs)
        for node in self.members:
            self.start_node(node, libs)
        self.wait_ready(timeout)

    def start_node(self, node: KafkaNode, libs: Path | None = None) -> None:
        libs = libs or ensure_jars()
        jvm = [f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true"]
        argv = self._java(libs, *jvm, "kafka.Kafka", str(node.home / "server.properties"))
        # cwd: where the JVM may write (an hs_err file), the account's own folder.
        node.process = proc.spawn(argv, node.log, cwd=node.data, **self._as_account())

    def restart_node(self, node: KafkaNode, timeout: float = 90.0) -> None:
        """The supervisor's restart of a node that exited: on its own data (Kafka recovers its
        log); a node that does not get ready is killed again, so the next try starts clean."""
        self.start_node(node)
        try:
            self.wait_ready(timeout)
        except BaseException:
            if node.process is not None:
                proc.stop(node.process, timeout=30)
            raise

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Ready when a metadata request answers with every node of the cluster."""

        def ready() -> bool:
            for node in self.members:
                if node.process is not None and node.process.poll() is not None:
                    raise GiveUp(  # waiting longer cannot help
                        f"broker node {node.node_id} exited: {node.process.returncode}"
                    )
            operator = self.credentials.auth(principals.OPERATOR)
            return asyncio.run(_cluster_size(self.bootstrap, operator)) == self.nodes

        wait_for(
            ready,
            timeout=timeout,
            what=f"Kafka on {self.bootstrap}",
            interval=0.5,
            detail=lambda: "broker log tail:\n" + proc.tail(self.members[0].log),
        )

    def stop(self) -> None:
        """SIGTERM every node first, then wait: a node stopped alone waits for a controller
        quorum whose other members are already gone."""
        running = [n.process for n in self.members if n.process and n.process.poll() is None]
        for p in running:
            p.send_signal(signal.SIGTERM)
        for p in running:
            proc.stop(p, timeout=30)

    def kill_node(self, node: KafkaNode) -> None:
        if node.process is not None:
            proc.kill(node.process)


async def _cluster_size(bootstrap: str, operator: KafkaAuth) -> int:
    # While the broker boots, aiokafka logs each refused connection as an error: expected here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=3000, **operator.aiokafka()
    )
    await admin.start()
    try:
        info = await admin.describe_cluster()
        return len(info["brokers"])
    finally:
        await admin.close()


def readable_by(path: Path, account: Account | None) -> None:
    """``path`` stays root's, mode 640, its group the account's: the broker running as the
    account reads its configuration (passwords included) and cannot change it."""
    if account is None:
        return
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, 0, account.gid)
        os.fchmod(fd, 0o640)
    finally:
        os.close(fd)
