"""compose.yml is the one source of each process's command and environment."""

from __future__ import annotations

from infra.compose import interpolate, load_specs, local_variables


def test_interpolate_uses_value_then_default() -> None:
    assert interpolate("${A:-x}/${B:-y}", {"A": "a"}) == "a/y"
    assert interpolate("plain", {}) == "plain"


def test_local_runner_points_services_at_local_stack() -> None:
    variables = local_variables("127.0.0.1:29092", "127.0.0.1", 55433, 16066)
    specs = {s.name: s for s in load_specs(variables)}
    assert list(specs) == ["init", "publisher", "analytics", "billing", "audit"]
    assert specs["init"].one_shot and not specs["billing"].one_shot
    billing = specs["billing"].env
    assert billing["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29092"
    assert billing["DATABASE_URL"] == "postgresql://billing:billing@127.0.0.1:55433/fanout"
    assert billing["SERVICE_NAME"] == "billing"
    assert [specs[n].web_port for n in ("publisher", "analytics", "billing", "audit")] == [
        16065,
        16066,
        16067,
        16068,
    ]
