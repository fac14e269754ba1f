"""The scenario engine's verdict can fail: a false prediction says "did not hold" (exit 1)
with both numbers, a scenario that cannot run says why (exit 2), and the catalog lists every
file of infra/scenarios/play/ by its kebab-case name."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.scenarios import catalog
from infra.scenarios.engine import CannotRun, Check, Measured, Say, Scenario, Verdict, run
from infra.scenarios.platform import locate
from infra.settings import ScenarioSettings


def scenario(play_it: object) -> Scenario[None]:
    return Scenario("toy", 99, "a toy", (), play_it)  # type: ignore[arg-type]


def play(lines: list[str], predicted: int, measured: int) -> int:
    async def toy(platform: None, say: Say) -> Verdict:
        say("step one")
        return Verdict((Check("events absorbed", predicted, measured), Check("gaps", 0, 0)))

    return asyncio.run(run(scenario(toy), None, lines.append))


def test_a_false_prediction_does_not_hold() -> None:
    lines: list[str] = []
    assert play(lines, predicted=37, measured=36) == 1
    assert lines == [
        "step one",
        "verdict: did not hold — events absorbed: predicted 37, measured 36; "
        "gaps: predicted 0, measured 0",
    ]


def test_a_true_prediction_holds() -> None:
    lines: list[str] = []
    assert play(lines, predicted=37, measured=37) == 0
    assert lines[-1].startswith("verdict: held — events absorbed: predicted 37, measured 37")


def test_no_check_is_no_verdict() -> None:
    assert not Verdict(()).held
    assert not Verdict((), (Measured("acks=0 lost", 37),)).held


def test_a_measured_number_is_shown_not_judged() -> None:
    verdict = Verdict((Check("acks=all lost", 0, 0),), (Measured("acks=0 lost", 37),))
    assert verdict.held
    assert verdict.line() == (
        "verdict: held — acks=all lost: predicted 0, measured 0; acks=0 lost: measured 37"
    )


def test_cannot_run_says_why_and_exits_2() -> None:
    async def toy(platform: None, say: Say) -> Verdict:
        raise CannotRun("no supervisor; the step is: docker compose kill billing")

    lines: list[str] = []
    assert asyncio.run(run(scenario(toy), None, lines.append)) == 2
    assert lines == ["cannot run here: no supervisor; the step is: docker compose kill billing"]


def test_a_broken_run_is_told_not_a_verdict() -> None:
    async def toy(platform: None, say: Say) -> Verdict:
        raise TimeoutError("the group never committed")

    lines: list[str] = []
    assert asyncio.run(run(scenario(toy), None, lines.append)) == 1
    assert lines == ["stopped before its verdict: TimeoutError: the group never committed"]


def test_list_prints_one_scenario_a_line_name_first() -> None:
    result = CliRunner().invoke(app, ["scenario", "list"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == list(catalog())
    assert {"crash-in-the-window", "replay", "earliest-vs-latest"} <= set(names)
    numbers = [s.number for s in catalog().values()]
    assert numbers == sorted(numbers)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)  # acks-0-vs-all


def test_an_unknown_scenario_exits_2() -> None:
    result = CliRunner().invoke(app, ["scenario", "run", "no-such"])
    assert result.exit_code == 2


def test_the_overview_knows_the_engines_last_lines() -> None:
    """The page shows the outcome apart from the narration by these beginnings."""
    from services.publisher.scenarios import LAST_LINES

    lines: list[str] = []
    play(lines, 1, 1)

    async def cannot(platform: None, say: Say) -> Verdict:
        raise CannotRun("why")

    async def broken(platform: None, say: Say) -> Verdict:
        raise ValueError("how")

    for toy in (cannot, broken):
        asyncio.run(run(scenario(toy), None, lines.append))
    outcomes = [line for line in lines if line != "step one"]
    assert len(outcomes) == 3
    assert all(line.startswith(LAST_LINES) for line in outcomes)
    assert not "step one".startswith(LAST_LINES)


def test_under_compose_the_reader_url_takes_its_password_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("FANOUT_STATE_DIR", str(tmp_path))  # no `./fanout up` here
    monkeypatch.setenv("READER_DATABASE_URL", "postgresql://fanout_reader@postgres:5432/fanout")
    monkeypatch.setenv("READER_DATABASE_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:19092")
    platform = locate(ScenarioSettings())  # type: ignore[call-arg]
    assert platform.reader_url == "postgresql://fanout_reader:s3cret@postgres:5432/fanout"
    assert (platform.bootstrap, platform.home) == ("kafka:19092", None)  # no process control
