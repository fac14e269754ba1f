"""`./fanout scenario list` and `./fanout scenario run NAME`: the guided scenarios
(infra/scenarios/), narrated line by line; the last line is the verdict with its numbers."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated

import typer

from infra.scenarios import catalog, engine
from infra.scenarios.platform import locate
from infra.settings import ScenarioSettings

scenario_app = typer.Typer(
    help="Guided scenarios: predict, act on the live platform, measure, verdict.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(scenario_app, name="scenario")


@scenario_app.command("list")
def list_scenarios(
    as_json: Annotated[bool, typer.Option("--json", help="For the overview page.")] = False,
) -> None:
    """One scenario a line: its name, then what it teaches."""
    found = catalog().values()
    if as_json:
        rows = [{"name": s.name, "teaches": s.teaches, "touches": s.touches} for s in found]
        typer.echo(json.dumps(rows))
        return
    width = max(len(s.name) for s in found)
    for s in found:
        typer.echo(f"{s.name:<{width}}  {s.teaches}")


@scenario_app.command("run")
def run_scenario(
    name: Annotated[str, typer.Argument(help="See `./fanout scenario list`.")],
) -> None:
    """Run NAME against the running platform; exit 0 when its verdict holds, 1 when it does
    not, 2 when it cannot run here (the reason is printed)."""
    scenarios = catalog()
    if name not in scenarios:
        typer.echo(f"no scenario {name!r}; there are: {', '.join(scenarios)}", err=True)
        raise typer.Exit(engine.CANNOT_RUN)
    platform = locate(ScenarioSettings())  # type: ignore[call-arg]
    # A contrast kills a broker on purpose: aiokafka's warning on every retry would bury the
    # narration (its errors still show).
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    def say(line: str) -> None:
        typer.echo(line)  # one line at a time: the overview relays them as they come

    raise typer.Exit(asyncio.run(engine.run(scenarios[name], platform, say)))
