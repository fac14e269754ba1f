"""Each service is a faust app whose consumer group is its name.

faust hosts the process: lifecycle and signals, logging, the web server (health, metrics,
dashboard, JSON API) and a producer. Consumption is the shared batch consumer, so faust's
per-event consumer/conductor is switched off with its documented BootStrategy hook.
"""

from __future__ import annotations

import gc

import faust
from faust.app.base import BootStrategy
from faust.worker import Worker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared import dashboard, kafka_auth
from shared.consumer import BatchConsumer
from shared.dashboard.layout import Layout
from shared.dashboard.panel import Panel
from shared.db import async_engine, read_engine
from shared.local_only import refusal
from shared.retention import prune_quietly, retained_tables
from shared.service import ServiceDefinition
from shared.settings import KafkaSettings, ServiceSettings
from shared.stats import ServiceStats
from shared.supervision import infra_states
from shared.web_guard import allowed_hosts, guard


class BatchBoot(BootStrategy):
    enable_kafka_consumer = False  # the BatchConsumer service consumes instead


class BatchApp(faust.App):
    BootStrategy = BatchBoot


def faust_app(name: str, settings: KafkaSettings) -> faust.App:
    auth = settings.kafka_auth
    kafka_auth.sign_in(auth)  # every client of this process, faust's and the kit's
    credentials = (
        faust.SASLCredentials(
            username=auth.username, password=auth.password, mechanism=auth.mechanism
        )
        if auth
        else None
    )
    return BatchApp(
        name,
        broker=[f"kafka://{b}" for b in settings.bootstrap_list],
        broker_credentials=credentials,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        web_host="127.0.0.1",
        topic_disable_leader=True,
        store="memory://",
        web_in_thread=False,
        # Every route checks Host and sends the security headers (shared/web_guard.py).
        web_application_options={"middlewares": [guard(_allowed(settings))]},
    )


def _allowed(settings: KafkaSettings) -> frozenset[str]:
    return allowed_hosts(settings.web_bind, settings.web_allowed_hosts.split(","))


def prometheus_response(web: faust.web.Web, registry: CollectorRegistry) -> faust.web.Response:
    # aiohttp rejects a content_type with parameters; the header carries Prometheus' version.
    return web.bytes(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_service_app(
    definition: ServiceDefinition, panel: Panel, settings: ServiceSettings, layout: Layout
) -> faust.App:
    app = faust_app(settings.service_name, settings)
    stats = ServiceStats(settings.service_name)
    engine = async_engine(settings.database_url, settings.db_pool_size, pre_ping=False)
    consumer = BatchConsumer(settings, definition, engine, stats)
    app.service(consumer)
    register_operations(app, settings, stats, consumer)
    reads = read_engine(
        settings.database_url, settings.read_pool_size, settings.read_statement_timeout_ms
    )
    dashboard.register_service(app, settings, stats, reads, definition, panel, layout)
    register_retention(app, settings, definition)
    return app


def register_retention(app: faust.App, settings: ServiceSettings, d: ServiceDefinition) -> None:
    """Old dead letters and history deleted periodically, on a connection of their own."""
    engine = async_engine(settings.database_url, pool_size=1)
    tables = retained_tables(d.retained)

    @app.timer(settings.retention_interval_s)
    async def retention() -> None:
        await prune_quietly(engine, d.name, tables, settings.retention_hours)


def register_operations(
    app: faust.App, settings: ServiceSettings, stats: ServiceStats, consumer: BatchConsumer
) -> None:
    """``/health``, ``/metrics``, the crash switch ``/crash`` and the pause switch."""

    @app.page("/health")
    async def health(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        ok = stats.db_up
        body = {
            "service": settings.service_name,
            "group": settings.group,
            "offset_store": settings.offset_store,
            "db_up": stats.db_up,
            "batches": stats.batches,
            "assigned": sorted(stats.assigned),
            "positioned": sorted(stats.positioned),
            "paused": consumer.pause.applied,
            # Under `./fanout up`: its broker's and database's state ("up", "down" …).
            "infra": infra_states(settings.supervisor_status),
        }
        return web.json(body, status=200 if ok else 503)

    @app.page("/metrics")
    async def metrics(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return prometheus_response(web, stats.registry)

    @app.page("/crash")
    class Crash(faust.web.View):
        """GET: is the crash switch armed? POST arms it (`./fanout crash SERVICE`): the next
        batch dies after its DB commit, before its offset commit. Only a deliberate local
        client may (shared/local_only.py): never a cross-site request."""

        async def get(self, request: faust.web.Request) -> faust.web.Response:
            return self.json({"armed": consumer.crash_requested})

        async def post(self, request: faust.web.Request) -> faust.web.Response:
            refused = refusal(request.headers, "crash")
            if refused:
                return self.json({"armed": consumer.crash_requested, "error": refused}, status=403)
            consumer.crash_requested = True
            return self.json({"armed": True})

    for action, paused in (("pause", True), ("resume", False)):
        register_pause_switch(app, consumer, action, paused)


def register_pause_switch(
    app: faust.App, consumer: BatchConsumer, action: str, paused: bool
) -> None:
    """``POST /pause`` stops fetching (process, group membership and dashboard stay),
    ``POST /resume`` starts again; guarded like /crash."""

    @app.page(f"/{action}", name=f"pause_switch_{action}")
    class Switch(faust.web.View):
        async def post(self, request: faust.web.Request) -> faust.web.Response:
            refused = refusal(request.headers, action)
            if refused:
                return self.json({"paused": consumer.pause.requested, "error": refused}, status=403)
            consumer.pause.requested = paused
            return self.json({"paused": paused})


def run(app: faust.App) -> None:
    """Run until SIGTERM/SIGINT; faust stops the consumer, which finishes its batch first."""
    tune_gc()
    Worker(app, loglevel="INFO", quiet=True).execute_from_commandline()


def tune_gc() -> None:
    """A service builds a few objects per event and keeps each batch alive through its
    transaction. With CPython's default thresholds a young-generation collection every 700
    allocations promotes the batch and walks the long-lived heap again and again (16% of a
    service's CPU in a py-spy profile). So: freeze what start-up built (modules, classes,
    faust's app), and collect the young generation every 10,000 allocations."""
    gc.freeze()
    gc.set_threshold(10_000, 50, 1000)


def run_service(definition: ServiceDefinition, panel: Panel, layout: Layout) -> None:
    # From the environment, at start-up; the name is the definition's, never a variable's.
    settings = ServiceSettings(service_name=definition.name)  # type: ignore[call-arg]
    run(create_service_app(definition, panel, settings, layout))
