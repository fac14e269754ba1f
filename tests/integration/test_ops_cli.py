"""The ops commands against the real test broker: every number they print is checked exactly."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner, Result

from infra.cli import app
from infra.ops.groups import describe_group, list_groups
from infra.polling import wait_for
from shared import broker
from shared.broker import EXPLICIT_TOPICS
from tests.support.kafka import commit, committed, ends, new_topic, produce_to, unique

# Wide enough that rich never folds or truncates a table cell.
runner = CliRunner(env={"COLUMNS": "250"})

# Events per partition of the topics below: partition 1 stays empty on purpose.
COUNTS = {0: 5, 1: 0, 2: 7}


def cli(bootstrap: str, *args: str) -> Result:
    return runner.invoke(app, [*args, "--bootstrap", bootstrap])


def table_rows(output: str) -> list[list[str]]:
    """The body rows of every rich table in ``output``, cells stripped."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.strip().startswith("│")
    ]


@contextmanager
def active_member(bootstrap: str, topic: str, group: str, client_id: str) -> Iterator[None]:
    """A live subscribed consumer of ``group`` (own thread and loop) until the block ends."""
    stop = threading.Event()

    async def run() -> None:
        consumer = broker.consumer(bootstrap, group, client_id=client_id)
        consumer.subscribe([topic])
        await consumer.start()
        try:
            while not stop.is_set():
                await consumer.getmany(timeout_ms=200)  # keeps the member polling
        finally:
            await consumer.stop()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: _owns_all(bootstrap, group, topic),
            timeout=30,
            what=f"{client_id} to own every partition of {topic}",
        )
        yield
    finally:
        stop.set()
        thread.join(timeout=30)
    wait_for(
        lambda: asyncio.run(describe_group(bootstrap, group)).idle,
        timeout=30,
        what=f"{group} to become idle",
    )


def _owns_all(bootstrap: str, group: str, topic: str) -> bool:
    info = asyncio.run(describe_group(bootstrap, group))
    owned = {tp.partition for m in info.members for tp in m.partitions if tp.topic == topic}
    return info.state == "Stable" and owned == set(COUNTS)


def filled_topic(bootstrap: str, prefix: str) -> str:
    topic = new_topic(bootstrap, prefix, partitions=len(COUNTS))
    asyncio.run(produce_to(bootstrap, topic, COUNTS))
    return topic


def test_topics_lists_and_describes_exact_partitions_and_offsets(bootstrap: str) -> None:
    topic = filled_topic(bootstrap, "ops-topics")
    asyncio.run(commit(bootstrap, unique("ops-topics-group"), topic, {0: 1}))  # offsets topic

    listed = cli(bootstrap, "topics")
    assert listed.exit_code == 0, listed.output
    rows = {r[0]: r[1:] for r in table_rows(listed.stdout)}
    assert rows[topic] == ["3", "1"]
    assert "__consumer_offsets" not in rows
    # Topics are made explicitly: the broker itself never creates one (and says why).
    said = " ".join(listed.stdout.split())  # rich may wrap the line
    assert f"auto.create.topics.enable=false: {EXPLICIT_TOPICS}" in said

    everything = cli(bootstrap, "topics", "--all")
    assert everything.exit_code == 0, everything.output
    assert "__consumer_offsets" in {r[0] for r in table_rows(everything.stdout)}

    expected = [[str(p), "1", "1", "1", "0", str(n)] for p, n in COUNTS.items()]
    for argv in (["topics", topic], ["topics", "describe", topic]):
        described = cli(bootstrap, *argv)
        assert described.exit_code == 0, described.output
        assert table_rows(described.stdout) == expected
        assert f"offsets retained: {sum(COUNTS.values())}" in described.stdout

    missing = cli(bootstrap, "topics", unique("no-such-topic"))
    assert missing.exit_code == 1
    assert "UnknownTopicOrPartitionError" in missing.output


def test_tail_prints_exactly_max_events_and_joins_no_group(bootstrap: str) -> None:
    topic = filled_topic(bootstrap, "ops-tail")
    groups_before = {g.group for g in asyncio.run(list_groups(bootstrap))}

    result = cli(bootstrap, "tail", topic, "--from-beginning", "--max", "4", "--timeout", "20")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert all(" key=k" in line and " timestamp=" in line for line in lines)
    assert len({line.rsplit(" ", 1)[1] for line in lines}) == 4  # four distinct values

    # One partition, to the end: stops on silence with exactly that partition's events.
    result = cli(bootstrap, "tail", topic, "--from-beginning", "--partition", "2", "--timeout", "2")
    assert result.exit_code == 0, result.output
    values = [line.rsplit(" ", 1)[1] for line in result.stdout.splitlines()]
    assert values == [f"v-p2-{i}" for i in range(COUNTS[2])]
    assert [line.split()[1] for line in result.stdout.splitlines()] == [
        f"offset={i}" for i in range(COUNTS[2])
    ]

    assert {g.group for g in asyncio.run(list_groups(bootstrap))} == groups_before


def test_groups_shows_exact_committed_offsets_lag_and_owner(bootstrap: str) -> None:
    topic = filled_topic(bootstrap, "ops-groups")
    group = unique("ops-groups-group")
    asyncio.run(commit(bootstrap, group, topic, {0: 3, 2: 7}))  # partition 1 never committed

    described = cli(bootstrap, "groups", group)
    assert described.exit_code == 0, described.output
    assert table_rows(described.stdout) == [
        [topic, "0", "3", "5", "2", "-", "-"],
        [topic, "1", "-", "0", "-", "-", "-"],
        [topic, "2", "7", "7", "0", "-", "-"],
    ]
    assert "members: 0  total lag: 2" in described.stdout

    listed = cli(bootstrap, "groups")
    assert listed.exit_code == 0, listed.output
    assert [group, "Empty", "0"] in table_rows(listed.stdout)

    client_id = unique("ops-owner")
    with active_member(bootstrap, topic, group, client_id):
        owned = cli(bootstrap, "groups", "describe", group)
        assert owned.exit_code == 0, owned.output
        rows = table_rows(owned.stdout)
        assert [r[5:] for r in rows] == [[client_id, "127.0.0.1"]] * len(COUNTS)
        assert "members: 1" in owned.stdout
        assert [group, "Stable", "1"] in table_rows(cli(bootstrap, "groups").stdout)


def test_reset_offsets_dry_run_then_execute_to_earliest_latest_and_datetime(
    bootstrap: str,
) -> None:
    topic = new_topic(bootstrap, "ops-reset", partitions=3)
    now = datetime.now(UTC)
    old, new = now - timedelta(minutes=20), now - timedelta(minutes=10)
    before = {0: 2, 1: 3, 2: 1}
    after = {0: 4, 1: 0, 2: 2}
    asyncio.run(produce_to(bootstrap, topic, before, "old", int(old.timestamp() * 1000)))
    asyncio.run(produce_to(bootstrap, topic, after, "new", int(new.timestamp() * 1000)))
    log_end = {p: before[p] + after[p] for p in before}
    assert ends(bootstrap, topic) == log_end

    group = unique("ops-reset-group")
    start = {0: 1, 1: 2, 2: 3}
    asyncio.run(commit(bootstrap, group, topic, start))

    dry = cli(bootstrap, "reset-offsets", group, "--topic", topic, "--to-earliest")
    assert dry.exit_code == 0, dry.output
    assert table_rows(dry.stdout) == [[str(p), str(start[p]), "0"] for p in start]
    assert "dry run" in dry.stdout
    assert committed(bootstrap, group, topic) == start

    def execute(*target: str) -> None:
        result = cli(bootstrap, "reset-offsets", group, "--topic", topic, *target, "--execute")
        assert result.exit_code == 0, result.output

    execute("--to-earliest")
    assert committed(bootstrap, group, topic) == {0: 0, 1: 0, 2: 0}

    execute("--to-latest")
    assert committed(bootstrap, group, topic) == log_end

    cutoff = (now - timedelta(minutes=15)).isoformat()
    execute("--to-datetime", cutoff)
    # The first "new" event of each partition (1: none, the log end).
    assert committed(bootstrap, group, topic) == before

    execute("--to-datetime", (now + timedelta(hours=1)).isoformat())
    assert committed(bootstrap, group, topic) == log_end


def test_reset_offsets_refuses_while_the_group_has_members(bootstrap: str) -> None:
    topic = filled_topic(bootstrap, "ops-refuse")
    group = unique("ops-refuse-group")
    start = {0: 2, 1: 0, 2: 4}
    asyncio.run(commit(bootstrap, group, topic, start))

    with active_member(bootstrap, topic, group, unique("ops-live")):
        for extra in ([], ["--execute"]):
            result = cli(bootstrap, "reset-offsets", group, "--topic", topic, "--to-latest", *extra)
            assert result.exit_code == 1, result.output
            assert "Stable with 1 member(s)" in result.output
            assert "offsets can only be reset while the group is inactive" in result.output
        assert committed(bootstrap, group, topic) == start

    # Once the member has left, the same command goes through.
    result = cli(bootstrap, "reset-offsets", group, "--topic", topic, "--to-latest", "--execute")
    assert result.exit_code == 0, result.output
    assert committed(bootstrap, group, topic) == COUNTS


@pytest.mark.parametrize("target", [[], ["--to-earliest", "--to-latest"]])
def test_reset_offsets_needs_exactly_one_target(bootstrap: str, target: list[str]) -> None:
    result = cli(bootstrap, "reset-offsets", unique("g"), "--topic", "t", *target)
    assert result.exit_code == 2
    assert "give exactly one" in result.output


def test_tail_stops_on_timeout_when_nothing_arrives(bootstrap: str) -> None:
    topic = new_topic(bootstrap, "ops-silent", partitions=1)
    started = time.monotonic()
    result = cli(bootstrap, "tail", topic, "--timeout", "1")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert time.monotonic() - started < 15
