"""The database ceiling: one service's idempotent batch writes issued directly, no Kafka.

Run as ``python -m infra.bench.db_ceiling SERVICE COUNT BATCH`` (one process per service, in
parallel, like the services); prints the seconds the writes took.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time

from services.publisher.generator import events
from shared.consumer import BatchConsumer
from shared.db import async_engine
from shared.events import Delivery
from shared.service import ServiceDefinition
from shared.settings import ServiceSettings
from shared.stats import ServiceStats


async def write_all(
    definition: ServiceDefinition, settings: ServiceSettings, count: int, batch: int
) -> float:
    deliveries = [
        Delivery(e, "bench", i % 6, i // 6, e.to_json())
        for i, e in enumerate(events(count, seed=count))
    ]
    engine = async_engine(settings.database_url)
    writer = BatchConsumer(settings, definition, engine, ServiceStats(settings.service_name))
    start = time.perf_counter()
    for i in range(0, count, batch):
        await writer.transaction(deliveries[i : i + batch])  # steps 1-5, no Kafka
    seconds = time.perf_counter() - start
    await engine.dispose()
    return seconds


def main() -> None:
    service, count, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    definition = importlib.import_module(f"services.{service}.app").DEFINITION
    settings = ServiceSettings(service_name=service)  # type: ignore[call-arg]
    print(asyncio.run(write_all(definition, settings, count, batch)))


if __name__ == "__main__":
    main()
