"""`./fanout bench --plan RATE`: what a published rate needs past one machine, computed from
what the same bench run measured here — each component's CPU per event, one service process's
drain rate, the events' size — next to the published anchors the plan leans on.

The model is deliberately simple and says so: work scales with events (CPU µs per event per
component, measured on one stack), a Python service process uses at most one core, every
machine runs at ``UTILISATION`` of its cores (headroom for rebalances, catch-up and failure of a
node), and a service's tables are split across PostgreSQL primaries by Kafka partition, so one
batch (one partition's records) stays on one shard and keeps its single transaction."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from infra.bench.run import BenchResult
from services.publisher.generator import events

UTILISATION = 0.6
# The broker's cost was measured at replication 1: one produce and three group fetches per
# event. Replication 3 adds two follower fetches, counted as two more fetches' worth.
REPLICATION = 3
BROKER_REPLICATION_FACTOR = (1 + 3 + (REPLICATION - 1)) / (1 + 3)
BROKER_CORES, POSTGRES_CORES = 16, 32  # one node of each, as sized in the plan

# Published figures the plan is checked against (not measured here).
ANCHORS = (
    "Kafka: 2 million writes/s on three commodity brokers, 100-byte records, 3x replication "
    "async (J. Kreps, 'Benchmarking Apache Kafka: 2 Million Writes Per Second (On Three Cheap "
    "Machines)', LinkedIn Engineering, 2014)",
    "Kafka: 'one can produce at 10s of MB/sec on just a single partition' (J. Rao, 'How to "
    "choose the number of topics/partitions in a Kafka cluster?', Confluent, 2015); the plan "
    "takes 10 MB/s",
    "PostgreSQL: COPY is its fastest load path (docs, 'Populating a Database'); rows/s per core "
    "vary with row width and indexes, so the plan uses the cost per event measured here",
)
PARTITION_MB_S = 10.0  # the partition anchor above


@dataclass(frozen=True)
class Inputs:
    """Measured in one bench run on this machine."""

    cpu_us: Mapping[str, float]  # per published event: each service, kafka, postgres, publisher
    services: tuple[str, ...]
    instance_events_per_s: float  # one service process draining its backlog here
    event_bytes: float  # a published event's mean size on the wire (value + key)


@dataclass(frozen=True)
class Plan:
    rate: int
    instances: dict[str, int]  # per consumer group
    partitions: int
    brokers: int
    postgres_primaries: int
    publisher_cores: float
    cores: dict[str, float]  # busy cores per component at the rate

    def lines(self, inputs: Inputs) -> list[str]:
        mb_s = self.rate * inputs.event_bytes / 1e6
        out = [f"plan for {self.rate:,} events/s ({mb_s:,.0f} MB/s published), measured here:"]
        out += [f"  {k}: {v:.1f} µs/event -> {self.cores[k]:,.1f} cores" for k, v in
                inputs.cpu_us.items()]  # fmt: skip
        out.append(
            f"  one service process drained {inputs.instance_events_per_s:,.0f} events/s here;"
            f" events {inputs.event_bytes:.0f} bytes"
        )
        out.append(
            f"  needs: {self.partitions} partitions; instances per group "
            + ", ".join(f"{k} {v}" for k, v in self.instances.items())
            + f"; {self.brokers} brokers of {BROKER_CORES} cores; {self.postgres_primaries}"
            f" PostgreSQL primaries of {POSTGRES_CORES} cores, each service's tables split by"
            " Kafka partition (partition p on primary p mod N: a batch stays on one shard)"
        )
        out.append(
            f"  at {UTILISATION:.0%} of every core; the broker's cost x{BROKER_REPLICATION_FACTOR}"
            f" for replication {REPLICATION} (measured at 1). Anchors:"
        )
        return out + [f"    - {a}" for a in ANCHORS]


def plan(rate: int, inputs: Inputs) -> Plan:
    cores = {k: rate * us / 1e6 for k, us in inputs.cpu_us.items()}
    # A process uses one core at most; the slower of its CPU bound and the drain measured here.
    per_instance = min(inputs.instance_events_per_s, 1e6 / max(inputs.cpu_us[s] for s in
                                                               inputs.services))  # fmt: skip
    instances = {s: math.ceil(rate / (per_instance * UTILISATION)) for s in inputs.services}
    kafka = cores.get("kafka", 0) * BROKER_REPLICATION_FACTOR
    brokers = max(REPLICATION, math.ceil(kafka / (BROKER_CORES * UTILISATION)))
    primaries = max(1, math.ceil(cores.get("postgres", 0) / (POSTGRES_CORES * UTILISATION)))
    by_size = math.ceil(rate * inputs.event_bytes / 1e6 / PARTITION_MB_S)
    # Enough for the largest group, a multiple of the shards (each owns as many partitions).
    partitions = max(max(instances.values()), by_size)
    partitions = math.ceil(partitions / primaries) * primaries
    return Plan(rate, instances, partitions, brokers, primaries, cores.get("publisher", 0), cores)


def inputs_of(result: BenchResult, services: tuple[str, ...], sample: int = 10_000) -> Inputs:
    """The plan's inputs from one bench run: its CPU per event and fanout's drain rate, and the
    mean size of the events it published (the same generator, the same seed)."""
    sized = [len(e.to_json()) + len((e.user_id or "").encode()) for e in events(sample, seed=1)]
    return Inputs(
        result.cpu_us_per_event, services, result.fanout_events_per_s, sum(sized) / len(sized)
    )
