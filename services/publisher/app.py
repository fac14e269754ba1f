"""The publisher process of `./fanout up` / compose: a gentle, endless stream of events."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry, Counter

from services.publisher import dashboard
from services.publisher.generator import events
from services.publisher.producer import make_producer, publish
from shared.app import faust_app, prometheus_response, run
from shared.settings import PublisherSettings
from shared.supervision import infra_states


def create_app(settings: PublisherSettings) -> faust.App:
    app = faust_app("publisher", settings)
    registry = CollectorRegistry()
    sent = Counter("fanout_published", "Events sent", registry=registry)
    acked = Counter(
        "fanout_published_acked", "Events acknowledged by the broker", registry=registry
    )

    @app.task
    async def produce_forever() -> None:
        producer = make_producer(settings.bootstrap_list, settings.publish_acks)
        await producer.start()
        try:
            while True:  # rounds of 100, so the acknowledged counter moves every few seconds
                result = await publish(
                    producer,
                    settings.events_topic,
                    events(100, settings.publish_users),
                    rate=settings.publish_rate,
                    on_sent=lambda n: sent.inc(n),
                    acks=settings.publish_acks,
                )
                acked.inc(result.acknowledged)
        finally:
            await producer.stop()

    @app.page("/metrics")
    async def metrics(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return prometheus_response(web, registry)

    view = dashboard.register(app, settings, {"sent": sent, "acked": acked})

    @app.page("/health")
    async def health(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        """503 while the broker is unreachable: the publisher cannot publish then."""
        facts = await view.broker()
        body = {
            "service": "publisher",
            "sent": sent._value.get(),
            "broker_up": facts.reachable,
            "infra": infra_states(settings.supervisor_status),
        }
        return web.json(body, status=200 if facts.reachable else 503)

    return app


if __name__ == "__main__":
    run(create_app(PublisherSettings()))
