"""The capacity model of `./fanout bench --plan`: pure arithmetic on measured inputs."""

from __future__ import annotations

import math

from infra.bench.plan import BROKER_REPLICATION_FACTOR, UTILISATION, Inputs, plan

SERVICES = ("analytics", "billing", "audit")
# One bench run's figures on a 2-core machine (README's Throughput section).
MEASURED = Inputs(
    cpu_us={"analytics": 17, "billing": 16, "audit": 17, "kafka": 22, "postgres": 46,
            "publisher": 5},
    services=SERVICES,
    instance_events_per_s=11_107,
    event_bytes=180,
)  # fmt: skip


def test_two_million_events_a_second() -> None:
    p = plan(2_000_000, MEASURED)
    per_group = math.ceil(2_000_000 / (11_107 * UTILISATION))  # the drain, not the CPU bound
    assert p.instances == dict.fromkeys(SERVICES, per_group)
    assert p.cores["postgres"] == 92.0 and p.cores["kafka"] == 44.0
    assert p.brokers == math.ceil(44 * BROKER_REPLICATION_FACTOR / (16 * UTILISATION))
    assert p.postgres_primaries == math.ceil(92 / (32 * UTILISATION))
    assert p.partitions >= per_group and p.partitions % p.postgres_primaries == 0
    assert p.partitions - per_group < p.postgres_primaries  # the next multiple, no more


def test_a_small_rate_still_has_three_brokers_and_one_primary() -> None:
    p = plan(1_000, MEASURED)
    assert (p.brokers, p.postgres_primaries, p.partitions) == (3, 1, 1)
    assert p.instances == dict.fromkeys(SERVICES, 1)


def test_the_cpu_bound_caps_a_process_when_the_drain_was_faster() -> None:
    fast = Inputs(MEASURED.cpu_us, SERVICES, 10**9, 180)
    p = plan(2_000_000, fast)
    assert p.instances["billing"] == math.ceil(2_000_000 / (1e6 / 17 * UTILISATION))


def test_the_plan_prints_every_input_and_its_anchors() -> None:
    text = "\n".join(plan(2_000_000, MEASURED).lines(MEASURED))
    for name, us in MEASURED.cpu_us.items():
        assert f"{name}: {us:.1f} µs/event" in text
    assert "11,107 events/s" in text and "Kreps" in text and "10s of MB/sec" in text
