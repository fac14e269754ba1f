"""Small web helpers for the dashboards: JSON and HTML responses, local static assets,
a shared short-lived cache, and database reads that report failure as data."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import faust
import jinja2
import orjson
from sqlalchemy.exc import SQLAlchemyError

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"
# aiohttp rejects content_type= with parameters: full types go in the header instead.
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
DB_TIMEOUT_S = 5.0
T = TypeVar("T")


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)  # money stays exact: the page formats the string, never a float
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(web: faust.web.Web, body: object, status: int = 200) -> faust.web.Response:
    data = orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)
    return web.bytes(
        data,
        status=status,
        headers={"Content-Type": "application/json", "Cache-Control": "no-store"},
    )


class Pages:
    """HTML pages through Jinja2 (autoescaped): the kit's templates (base.html, service.html)
    and a process's own ``web/`` folder, which may add or override templates."""

    def __init__(self, *own: Path) -> None:
        loader = jinja2.FileSystemLoader([*own, TEMPLATES])
        self.env = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )

    def response(self, web: faust.web.Web, template: str, **values: object) -> faust.web.Response:
        text = self.env.get_template(template).render(**values)
        return web.bytes(
            text.encode(),
            headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
        )


def nav(ports: dict[str, int], publisher: str = "publisher") -> list[dict[str, str]]:
    """Links to every page: the overview, then each process's own page."""
    overview = {"port": publisher, "path": "/overview", "label": "overview"}
    return [overview, *({"port": name, "path": "", "label": name} for name in ports)]


def register_static(app: faust.App, *own: Path) -> None:
    """``/static/<name>``: the kit's static/ and a process's own ``web/`` files, read once;
    nothing comes from a CDN."""
    assets = {
        p.name: (p.read_bytes(), CONTENT_TYPES[p.suffix])
        for folder in (STATIC, *own)
        for p in folder.iterdir()
        if p.suffix in CONTENT_TYPES
    }

    @app.page("/static/{name}", name="dashboard_static")
    async def static(
        web: faust.web.Web, request: faust.web.Request, name: str
    ) -> faust.web.Response:
        if name not in assets:  # only known names: no path ever reaches the file system
            return json_response(web, {"error": f"no asset {name!r}"}, status=404)
        body, content_type = assets[name]
        return web.bytes(
            body, headers={"Content-Type": content_type, "Cache-Control": "max-age=300"}
        )


class BadParameter(ValueError):
    """A query parameter outside its documented bound: the answer is 400 (shared/web_guard.py),
    never a clamped guess, and never one cache entry per arbitrary value."""


def query_int(request: faust.web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; absent gives the default."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise BadParameter(f"{name} must be an integer from {low} to {high}") from None
    if not low <= value <= high:
        raise BadParameter(f"{name} must be from {low} to {high}, not {value}")
    return value


class ReadFailed(Exception):
    """A read-side query failed; ``str()`` says why, for the page to show."""


async def guarded(read: Callable[[], Awaitable[T]]) -> T:
    """Run a database read with a deadline; any database failure becomes ReadFailed."""
    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            return await read()
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise ReadFailed(f"{type(reason).__name__}: {reason}".strip().rstrip(":")) from exc


@dataclass
class _Entry:
    at: float
    value: Any


@dataclass
class Cached:
    """Short-lived, single-flight cache: several open pages polling every second share one
    database or broker read per ``ttl`` instead of multiplying the load."""

    ttl: float = 1.0
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get(key)
        if entry and time.monotonic() - entry.at < self.ttl:
            return entry.value  # type: ignore[no-any-return]
        async with self._locks.setdefault(key, asyncio.Lock()):
            entry = self._entries.get(key)  # another request may have loaded it meanwhile
            if entry and time.monotonic() - entry.at < self.ttl:
                return entry.value  # type: ignore[no-any-return]
            value = await load()  # failures are not cached: the next poll tries again
            self._entries[key] = _Entry(time.monotonic(), value)
            return value
