"""`./fanout bench`: throughput against a peer and a ceiling, latency, memory, CPU per event."""

from __future__ import annotations

from typing import Annotated

import typer

from infra.cli.options import console
from services.registry import SERVICES


def register(app: typer.Typer) -> None:
    app.command()(bench)


def bench(
    events_: Annotated[int, typer.Option("--events", "-n", min=1000)] = 100_000,
    rate: Annotated[
        list[float] | None,
        typer.Option(help="A latency run's rate (events/s), repeatable; default 200, 2000, 20000."),
    ] = None,
    latency_seconds: Annotated[float, typer.Option(min=0.1, help="Each latency run, s.")] = 10,
    warm_up: Annotated[
        float,
        typer.Option(min=0, help="Unmeasured seconds at the middle rate before them; 0: cold."),
    ] = 30,
    batch: Annotated[
        int | None, typer.Option(help="Services' BATCH_MAX (default: their own).")
    ] = None,
    peer: Annotated[
        list[str] | None,
        typer.Option(help="Also drain the backlog with a peer: quix (its defaults, then tuned)."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="py-spy profile of one service while it drains.")
    ] = None,
    plan: Annotated[
        int | None,
        typer.Option(min=1, help="Also print what RATE events/s needs, from this run's numbers."),
    ] = None,
) -> None:
    """Drain a pre-filled backlog with fanout's services and the no-framework ceiling (and
    --peer quix), then latency, memory and the database ceiling, on a private stack."""
    from infra.bench.report import report
    from infra.bench.run import BenchOptions, run_bench

    if any(p != "quix" for p in peer or []):
        raise typer.BadParameter("the only peer is quix")
    if profile is not None and profile not in SERVICES:
        raise typer.BadParameter(f"--profile takes one of {', '.join(SERVICES)}")
    rates = tuple(rate) if rate else BenchOptions.rates
    opts = BenchOptions(
        events_, rates, latency_seconds, warm_up, batch or BenchOptions.batch, tuple(peer or []),
        profile,
    )  # fmt: skip
    result = run_bench(opts)
    report(console(), result)
    if plan is not None:
        from infra.bench.plan import inputs_of
        from infra.bench.plan import plan as plan_for

        inputs = inputs_of(result, SERVICES)
        console().print(*plan_for(plan, inputs).lines(inputs), sep="\n")
