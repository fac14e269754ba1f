"""`docker compose up` for real: compose.yml in a container engine, checked end to end.

The tests run in file order against one stack (the ``tier`` fixture): start-up order, ports,
dashboards, exactly-once through the published ports, a SIGKILLed container restarted by
compose's restart policy, and `down -v` leaving nothing behind.
"""

from __future__ import annotations

import os
import re
import signal
from decimal import Decimal

from infra.compose.secrets import SECRETS
from infra.compose.tier import parse_time
from infra.polling import wait_for
from services.publisher.generator import events as generate
from tests.compose.containers import ContainerService, restarted, snapshot, wait_all_committed
from tests.compose.stack import INFRA, LONG_RUNNING, SERVICES, TOPIC, Tier
from tests.support.db import Db
from tests.support.publishing import BackgroundPublish, balances, publish_events, type_totals
from tests.support.windows import freeze_in_window


def test_passwords_are_generated_on_first_start_without_any_env_file(tier: Tier) -> None:
    """No .env and no variable: every password is new, random, and only in its own volume."""
    # In any order: under load, podman 4.3's `logs` has returned these lines reordered.
    log = sorted(line for line in tier.logs("secrets", lines=None).splitlines() if line)
    assert log == sorted(f"secrets: {name} generated" for name in SECRETS)
    values = [tier.secret(secret) for secret in SECRETS.values()]
    assert len(set(values)) == 5 and all(re.fullmatch("[0-9a-f]{32}", v) for v in values)


def test_services_become_healthy_in_dependency_order(tier: Tier) -> None:
    tier.wait_healthy(INFRA + LONG_RUNNING)
    names = {c["Config"]["Labels"]["com.docker.compose.service"] for c in tier.project.containers()}
    assert names == {"secrets", *INFRA, "init", *LONG_RUNNING}
    made = tier.state("secrets")
    assert (made["Status"], made["ExitCode"]) == ("exited", 0), tier.logs("secrets")
    # postgres started only once its password was stored (kafka needs none)
    assert parse_time(tier.state("postgres")["StartedAt"]) > parse_time(made["FinishedAt"])
    init = tier.state("init")
    assert (init["Status"], init["ExitCode"]) == ("exited", 0), tier.logs("init")
    init_started, init_ended = parse_time(init["StartedAt"]), parse_time(init["FinishedAt"])
    for infra in INFRA:  # init started only once kafka and postgres were healthy
        assert init_started > tier.health.first_healthy[infra], infra
    for name in LONG_RUNNING:  # and the services only once init had completed
        assert parse_time(tier.state(name)["StartedAt"]) > init_ended, name
        assert tier.project.container(name)["RestartCount"] == 0, tier.logs(name)


def test_ports_are_published_on_loopback_only(tier: Tier) -> None:
    published: dict[str, set[tuple[str, str]]] = {}
    for c in tier.project.containers():
        ports = c["NetworkSettings"]["Ports"] or {}
        bound = {(b["HostIp"], b["HostPort"]) for binds in ports.values() for b in binds or []}
        if bound:
            published[c["Config"]["Labels"]["com.docker.compose.service"]] = bound
    s = tier.settings
    assert published == {
        "kafka": {("127.0.0.1", str(s.kafka_port))},
        "postgres": {("127.0.0.1", str(s.pg_port))},
        **{n: {("127.0.0.1", str(p))} for n, p in tier.web_ports.items()},
    }


def test_each_dashboard_answers_on_its_published_port(tier: Tier) -> None:
    for name in LONG_RUNNING:
        status, page = tier.get(name, "/")
        assert status == 200 and b"<html" in page.lower(), name
        assert tier.health_json(name)["service"] == name
    status, page = tier.get("publisher", "/overview")
    assert status == 200 and b"<html" in page.lower()


def test_events_through_the_published_ports_are_persisted_exactly_once(tier: Tier) -> None:
    """The publisher container stops, so the topic holds what it sent plus our batch only."""
    tier.project.compose("stop", "publisher")
    db = Db(tier.admin_url)
    wait_all_committed(tier)
    before = snapshot(db)
    batch = publish_events(tier.bootstrap, TOPIC, 3_000, seed=901)
    wait_all_committed(tier)
    after = snapshot(db)
    ids = [str(e.event_id) for e in batch]
    for name in SERVICES:
        assert after.inbox[name] - before.inbox[name] == 3_000, name
        assert after.sums[name]["processed"] - before.sums[name]["processed"] == 3_000, name
        assert after.sums[name]["duplicates"] == before.sums[name]["duplicates"] == 0, name
        found = db.one(f"SELECT count(*) FROM {name}.inbox WHERE event_id::text = ANY(%s)", ids)
        assert found == 3_000, name
    assert after.totals - before.totals == type_totals(batch)
    assert _delta(before.balances, after.balances) == balances(batch)


def _delta(before: dict[str, Decimal], after: dict[str, Decimal]) -> dict[str, Decimal]:
    moved = {u: b - before.get(u, Decimal(0)) for u, b in after.items()}
    return {u: d for u, d in moved.items() if d}


def test_a_sigkilled_service_container_is_restarted_and_its_window_absorbed(tier: Tier) -> None:
    """audit is frozen right after a batch's DB commit (before its offset commit), SIGKILLed
    there, and restarted by compose's `restart: unless-stopped`: it reads the window again and
    absorbs exactly it; nothing is lost or applied twice anywhere."""
    db = Db(tier.admin_url)
    before = snapshot(db)
    stream = list(generate(8_000, users=50, seed=902))
    publisher = BackgroundPublish(tier.bootstrap, TOPIC, stream, rate=1_500).start()
    audit = ContainerService(tier, "audit")
    frozen = freeze_in_window(db, tier.bootstrap, TOPIC, audit, timeout=120)
    assert frozen is not None, "no batch of audit was caught between DB commit and offset commit"
    window, attempts = frozen
    os.kill(audit.process.pid, signal.SIGKILL)
    restarted(tier, "audit", old_pid=audit.process.pid)
    result = publisher.join()
    assert (result.acknowledged, result.failed) == (len(stream), 0)
    wait_all_committed(tier)
    after = snapshot(db)
    for name in SERVICES:
        assert after.inbox[name] - before.inbox[name] == len(stream), name
        assert after.sums[name]["processed"] - before.sums[name]["processed"] == len(stream)
    assert after.sums["audit"]["duplicates"] == window.size > 0
    assert db.redelivered() == window.size  # audit's own record of every delivery
    assert after.sums["analytics"]["duplicates"] == after.sums["billing"]["duplicates"] == 0
    assert after.totals - before.totals == type_totals(stream)
    print(f"audit frozen after {attempts} tries, SIGKILLed with a window of {window.size}")


def test_down_v_leaves_no_container_network_or_volume(tier: Tier) -> None:
    assert tier.project.leftovers()["volumes"], "the stack's volumes should exist before down"
    tier.project.compose("down", "-v", "--timeout", "20")
    wait_for(
        lambda: tier.project.leftovers() == {"containers": [], "volumes": [], "networks": []},
        timeout=30,
        what="down -v to remove everything",
        detail=lambda: repr(tier.project.leftovers()),
    )
    names = ["kafka-data", "pg-data", *(f"secret-{s}" for s in SECRETS.values())]
    volumes = {f"{tier.project.name}_{name}" for name in names}
    assert volumes.isdisjoint(tier.project.podman.ids("volume"))
    assert f"{tier.project.name}_default" not in tier.project.podman.ids("network")
