"""The platform's processes and their dashboard ports, as compose.yml declares them
(``services/registry.py`` fills it in; compose.yml is held to it): every dashboard's
navigation links the others."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    name: str
    web_port: int  # its dashboard's default port (compose.yml: ${<NAME>_WEB_PORT:-port})


@dataclass(frozen=True)
class Layout:
    """The publisher (which also serves the overview) and the consuming services."""

    publisher: Process
    services: tuple[Process, ...]

    @property
    def processes(self) -> tuple[Process, ...]:
        return (self.publisher, *self.services)

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.services)

    def ports(self, own: str, own_port: int) -> dict[str, int]:
        """Every dashboard's port, seen from ``own`` serving on ``own_port``: the ports keep
        compose.yml's layout, so a deployment that moves one moves all by the same offset."""
        shift = own_port - next(p.web_port for p in self.processes if p.name == own)
        return {p.name: p.web_port + shift for p in self.processes}
