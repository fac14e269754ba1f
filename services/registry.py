"""The platform's processes in one place: what compose.yml declares, infra/ starts, the
overview and `./fanout reconcile` read. A unit test holds compose.yml to it."""

from __future__ import annotations

from shared.dashboard.layout import Layout, Process

LAYOUT = Layout(
    publisher=Process("publisher", 6065),
    services=(Process("analytics", 6066), Process("billing", 6067), Process("audit", 6068)),
)
SERVICES = LAYOUT.service_names
