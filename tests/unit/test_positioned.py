"""/health's "positioned": a fetch that read partitions assigned during it (its batch may then
be held for long, by a lock or a slow database) shows them at once, not only at the next step."""

from aiokafka import TopicPartition

from shared.stats import ServiceStats


def test_a_fetch_adds_the_partitions_it_knew_the_position_of() -> None:
    stats = ServiceStats("billing")
    stats.set_positioned({TopicPartition("events", 0), TopicPartition("events", 1)}, "events")
    read = [TopicPartition("events", 1), TopicPartition("events", 4), TopicPartition("redrive", 4)]
    stats.add_positioned(read, "events")
    assert stats.positioned == {0, 1, 4}
    # What the loop has settled itself is unchanged: a new partition's start is still its job.
    assert stats.positioned_tps == {TopicPartition("events", 0), TopicPartition("events", 1)}


def test_the_next_step_drops_what_was_revoked() -> None:
    stats = ServiceStats("billing")
    stats.add_positioned([TopicPartition("events", 2), TopicPartition("events", 3)], "events")
    stats.set_positioned({TopicPartition("events", 3)}, "events")
    assert stats.positioned == {3}
