"""Local hazards: a cross-site POST to the crash switch or to a scenario's Run, and a clone
PostgreSQL cannot enter."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from infra.local.stack import Stack
from infra.polling import wait_for
from infra.postgres.server import RELOCATED, PostgresServer, postgres_can_enter
from shared.db import READ_APPLICATION
from shared.local_only import ACTION_HEADER, crash_request
from tests.support.db import Db
from tests.support.kafka import new_topic
from tests.support.processes import running_services
from tests.support.web import get_json


def _post(
    port: int, headers: dict[str, str], body: bytes | None = None, path: str = "/crash"
) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=body, method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_crash_switch_refuses_cross_site_posts_and_obeys_the_cli(stack: Stack) -> None:
    topic = new_topic(stack.bootstrap, "crash-guard", 1)
    with running_services(stack, topic, ("billing",)) as procs:
        billing = procs["billing"]
        billing.wait_assigned(1)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, body = _post(billing.port, form, b"x=1")  # what any web page can send
        assert (status, body["armed"]) == (403, False)
        evil = {ACTION_HEADER: "crash", "Origin": "http://evil.example"}
        status, body = _post(billing.port, evil)
        assert (status, body) == (
            403,
            {"armed": False, "error": "Origin 'http://evil.example' is not this server"},
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{billing.port}/crash") as r:
            assert json.loads(r.read()) == {"armed": False}
        with urllib.request.urlopen(crash_request(billing.port), timeout=5) as r:
            assert json.loads(r.read()) == {"armed": True}  # what `./fanout crash` sends
        for action in ("pause", "resume"):  # the pause switch has the same guard
            status, body = _post(billing.port, form, b"x=1", path=f"/{action}")
            assert (status, body["paused"]) == (403, False)


def test_a_scenario_run_refuses_cross_site_posts(stack: Stack) -> None:
    topic = new_topic(stack.bootstrap, "scenario-guard", 1)
    with running_services(stack, topic, ("publisher",), PUBLISH_RATE="0.001") as procs:
        port = procs["publisher"].port
        run = "/api/scenarios/earliest-vs-latest/run"
        wait_for(lambda: get_json(port, "/api/scenarios"), timeout=60, what="the publisher")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        missing = f"missing header {ACTION_HEADER}: scenario (cross-site requests are refused)"
        assert _post(port, form, b"x=1", path=run) == (403, {"error": missing})
        evil = {ACTION_HEADER: "scenario", "Origin": "http://evil.example"}
        assert _post(port, evil, path=run) == (
            403,
            {"error": "Origin 'http://evil.example' is not this server"},
        )
        assert get_json(port, "/api/scenarios")["run"] is None  # nothing was started


def _get(port: int, path: str, host: str | None = None) -> tuple[int, dict, dict[str, str]]:
    headers = {"Host": host} if host else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read()), dict(refused.headers)


def test_every_route_refuses_a_rebound_host_and_unbounded_parameters(stack: Stack) -> None:
    """A page that rebinds its DNS name to 127.0.0.1 reads nothing (421 on GETs too); a
    parameter outside its bound is a 400, not a clamp; pages cannot be framed."""
    topic = new_topic(stack.bootstrap, "host-guard", 1)
    with running_services(stack, topic, ("analytics", "audit")) as procs:
        port, audit = procs["analytics"].port, procs["audit"].port
        procs["analytics"].wait_assigned(1)
        procs["audit"].wait_assigned(1)
        paths = ("/api/summary", "/api/recent", "/health", "/metrics", "/", "/static/common.js")
        for path in paths:
            status, body, _ = _get(port, path, host=f"rebind.example:{port}")
            assert status == 421 and "rebind.example" in body["error"], (path, status, body)
        for path in ("/api/events", f"/api/events/{uuid.uuid4()}"):
            status, body, _ = _get(audit, path, host=f"rebind.example:{audit}")
            assert status == 421 and "rebind.example" in body["error"], (path, status, body)
        status, _, headers = _get(port, "/api/summary", host=f"localhost:{port}")
        assert status == 200
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        bounds = [
            (port, "/api/minutes?minutes=", ("0", "1441", "ten"), "minutes must be", "1440"),
            (port, "/api/recent?limit=", ("0", "201", "1e9"), "limit must be", "200"),
            (audit, "/api/events?limit=", ("0", "101", "-1"), "limit must be", "100"),
            (audit, "/api/events/", ("x" * 37, "1; DROP"), "not an event id", str(uuid.uuid4())),
        ]
        for where, prefix, bad_values, message, good in bounds:
            for bad in bad_values:
                status, body, _ = _get(where, prefix + urllib.parse.quote(bad))
                assert status == 400 and message in body["error"], (prefix, bad, body)
            assert _get(where, prefix + good)[0] in (200, 404), (prefix, good)


def test_a_burst_of_dashboard_reads_holds_only_the_dashboards_own_sessions(
    stack: Stack, db: Db
) -> None:
    """However many heavy GETs arrive, they run on the dashboards' pool (2 sessions, each
    statement timed out by the server), never on the consume loop's connections."""
    topic = new_topic(stack.bootstrap, "read-pool", 1)
    with running_services(stack, topic, ("analytics",)) as procs:
        port = procs["analytics"].port
        procs["analytics"].wait_assigned(1)
        with ThreadPoolExecutor(16) as pool:  # distinct limits: no answer from the cache
            answers = list(pool.map(lambda n: _get(port, f"/api/recent?limit={n}")[0],
                                    range(1, 201)))  # fmt: skip
        assert answers == [200] * 200
        sessions = db.all(
            "SELECT application_name, count(*) FROM pg_stat_activity WHERE usename = %s "
            "AND application_name = %s GROUP BY 1",
            "analytics",
            READ_APPLICATION,
        )
        assert sessions == [(READ_APPLICATION, 2)], sessions


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_clone_in_a_folder_only_root_can_enter_starts_postgres(tmp_path: Path) -> None:
    """Like a clone in root's home (mode 700): initdb and the server, run as `postgres`, get
    a cluster folder they can reach; the state folder keeps the password and the log."""
    private = tmp_path / "root-home"
    private.mkdir(mode=0o700)
    home = private / "fanout" / ".state" / "up" / "postgres"
    assert not postgres_can_enter(home)
    server = PostgresServer(home, _free_port())
    try:
        server.start()
        assert server.cluster_dir.parent == RELOCATED
        assert (server.data / "PG_VERSION").exists()
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("fanout",)
        assert server.password_file.stat().st_mode & 0o777 == 0o600
        assert private.stat().st_mode & 0o777 == 0o700  # nothing was opened up
    finally:
        server.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
        shutil.rmtree(server.cluster_dir, ignore_errors=True)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)


def _as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True,
                          text=True, timeout=30)  # fmt: skip


def test_root_follows_no_link_the_postgres_user_plants() -> None:
    """What the ``postgres`` OS user can write (its cluster folder) may hold links to root's
    files by the next start: root neither chowns nor writes through them; and the folder with
    the password and the log is root's, so no link can be planted there at all."""
    tmp_path = Path(tempfile.mkdtemp(prefix="fanout-links-"))  # pytest's is 700: postgres
    tmp_path.chmod(0o755)  # must enter this one
    home = tmp_path / "state" / "postgres"
    server = PostgresServer(home, _free_port())
    target = tmp_path / "roots-folder"
    target.mkdir()
    try:
        server.start()
        server.stop()
        assert server.cluster_dir == home / "cluster"
        sock = server.cluster_dir / "socket"
        assert _as_postgres("rm", "-rf", str(sock)).returncode == 0
        assert _as_postgres("ln", "-s", str(target), str(sock)).returncode == 0
        planted = _as_postgres("ln", "-s", str(target), str(home / "postgres.log.planted"))
        assert planted.returncode != 0, "the postgres user could write root's folder"
        with pytest.raises(RuntimeError, match="is not a folder"):
            server.start()
        assert target.stat().st_uid == 0, "root chowned a link's target to postgres"
        assert (home.stat().st_uid, server.password_file.stat().st_mode & 0o777) == (0, 0o600)
    finally:
        server.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)
