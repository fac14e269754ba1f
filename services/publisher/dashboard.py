"""The publisher's page (``/``, ``/api/publisher``) and the fan-out overview (``/overview``,
``/api/overview``, and its Scenarios panel: ``/api/scenarios``, ``POST
/api/scenarios/{name}/run``), with their templates and scripts in ``web/``."""

from __future__ import annotations

from pathlib import Path

import faust
from prometheus_client import Counter

from services.publisher.overview import Overview
from services.publisher.scenarios import Scenarios, supervisor_folder
from services.registry import LAYOUT
from shared.dashboard.http import Pages, json_response, nav, register_static
from shared.db import READ_STATEMENT_TIMEOUT_MS
from shared.local_only import refusal
from shared.readside import engines_for
from shared.settings import PublisherSettings

WEB = Path(__file__).parent / "web"


def register(app: faust.App, settings: PublisherSettings, counters: dict[str, Counter]) -> Overview:
    urls = settings.reader_urls(LAYOUT.service_names)
    engines = engines_for(urls, pool_size=2, statement_timeout_ms=READ_STATEMENT_TIMEOUT_MS)
    groups = {name: settings.consumer_groups.get(name, name) for name in LAYOUT.service_names}
    view = Overview(settings, groups, engines, counters)

    @app.timer(1.0)
    async def sample_sent() -> None:
        view.sample()

    register_pages(app, view)
    register_api(app, view)
    register_scenarios(app, Scenarios(supervisor_folder(settings.supervisor_status)))
    register_static(app, WEB)
    return view


def register_pages(app: faust.App, view: Overview) -> None:
    pages, topic = Pages(WEB), view.settings.events_topic

    @app.page("/", name="publisher_page")
    async def page(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        links = nav(view.ports)
        return pages.response(
            web, "publisher.html", title="publisher", page="publisher", nav=links, topic=topic
        )

    @app.page("/overview", name="overview_page")
    async def overview_page(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        links = nav(view.ports)
        return pages.response(
            web, "overview.html", title="overview", page="overview", nav=links, topic=topic
        )


def register_api(app: faust.App, view: Overview) -> None:
    @app.page("/api/publisher", name="api_publisher")
    async def publisher(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        facts = await view.broker()
        return json_response(
            web,
            {
                **view.publisher(),
                "log_end": facts.log_end,
                "broker": {"up": facts.reachable, "error": facts.error},
                "ports": view.ports,
            },
        )

    @app.page("/api/overview", name="api_overview")
    async def overview(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return json_response(web, await view.overview())


def register_scenarios(app: faust.App, scenarios: Scenarios) -> None:
    @app.page("/api/scenarios", name="api_scenarios")
    async def listing(web: faust.web.Web, request: faust.web.Request) -> faust.web.Response:
        return json_response(web, {"scenarios": await scenarios.catalog(), "run": scenarios.view()})

    @app.page("/api/scenarios/{name}/run", name="api_scenario_run")
    class Run(faust.web.View):
        """POST starts the scenario. It changes the platform (crashes, resets offsets), so it
        gets `POST /crash`'s guard: only a deliberate local client, never a cross-site one."""

        async def post(self, request: faust.web.Request, name: str) -> faust.web.Response:
            refused = refusal(request.headers, "scenario")
            if refused:
                return json_response(self.web, {"error": refused}, status=403)
            busy = await scenarios.start(name)
            if busy:
                return json_response(self.web, {"error": busy, "run": scenarios.view()}, 409)
            return json_response(self.web, {"run": scenarios.view()}, status=202)
