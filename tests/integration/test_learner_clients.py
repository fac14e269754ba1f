"""The learner's client configurations, each used by the tool it is written for: Kafka's own
console consumer with ``learner.properties``, librdkafka (kcat's library) with
``learner-kcat.conf``. (kafka-python's: tests/integration/test_broker_access.py.)"""

from __future__ import annotations

import asyncio
import subprocess

from confluent_kafka import Consumer

from infra.kafka.principals import LEARNER
from infra.kafka.server import LOG4J, ensure_jars, ensure_tool_jar
from infra.local.stack import Stack
from infra.polling import wait_for
from tests.support.kafka import produce, unique

VALUES = [f"learner-{i}".encode() for i in range(3)]


def _topic(stack: Stack) -> str:
    topic = unique("learner")
    assert stack.provision(topic)
    assert asyncio.run(produce(stack.bootstrap, topic, VALUES)) == len(VALUES)
    return topic


def test_kafka_console_consumer_with_the_learner_properties(stack: Stack) -> None:
    topic = _topic(stack)
    config = stack.credentials.folder / f"{LEARNER}.properties"
    classpath = f"{ensure_jars()}/*:{ensure_tool_jar()}"
    argv = ["java", f"-Dlog4j2.configurationFile={LOG4J}", "-cp", classpath,
            "org.apache.kafka.tools.consumer.ConsoleConsumer",
            "--bootstrap-server", stack.bootstrap, "--topic", topic,
            "--group", f"learner-{topic}", "--from-beginning",
            "--max-messages", str(len(VALUES)), "--timeout-ms", "60000",
            "--consumer.config", str(config)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    # Its stdout also carries the broker jars' log lines (log4j2.properties): keep the records.
    printed = [line for line in done.stdout.splitlines() if line.startswith("learner-")]
    assert sorted(printed) == sorted(v.decode() for v in VALUES), done.stdout[-3000:]
    assert f"Processed a total of {len(VALUES)} messages" in done.stderr + done.stdout


def test_librdkafka_with_the_learner_kcat_config(stack: Stack) -> None:
    """kcat -F hands each key=value to librdkafka: the same keys, read the same way."""
    topic = _topic(stack)
    text = (stack.credentials.folder / f"{LEARNER}-kcat.conf").read_text()
    config = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    consumer = Consumer({**config, "group.id": f"learner-{topic}", "auto.offset.reset": "earliest"})
    got: list[bytes] = []
    try:
        consumer.subscribe([topic])

        def read() -> bool:
            message = consumer.poll(1.0)
            if message is not None:
                assert message.error() is None, message.error()
                got.append(message.value())
            return len(got) >= len(VALUES)

        wait_for(read, timeout=60, what=f"{len(VALUES)} events through librdkafka", interval=0)
    finally:
        consumer.close()
    assert sorted(got) == sorted(VALUES)
