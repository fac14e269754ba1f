"""What `./fanout bench` computes and prints from its drains: the ratios against both Quix forms
and the ceiling (the mean of its two drains), and the contenders' settings."""

from __future__ import annotations

import io

from rich.console import Console

from infra.bench import ceiling, peers
from infra.bench.clock import Drain
from infra.bench.report import report
from infra.bench.run import BenchResult, ratios


def drain(pipeline: str, rate: float, cpu: dict[str, float]) -> Drain:
    return Drain(pipeline, 100_000, 10.0, 12.0, rate, 0.1, cpu)


def result() -> BenchResult:
    r = BenchResult(events=100_000)
    r.drains = {
        "ceiling": drain("ceiling", 40_000, {"ceiling-1": 10, "postgres": 20}),
        "quix": drain("quix", 8_000, {"quix-1": 100, "postgres": 100}),
        "quix-tuned": drain("quix-tuned", 12_000, {"quix-tuned-1": 60, "postgres": 40}),
        "fanout": drain("fanout", 24_000, {"analytics": 20, "postgres": 30}),
        "ceiling-after": drain("ceiling-after", 20_000, {"ceiling-after-1": 20, "postgres": 40}),
    }
    ratios(r)
    return r


def test_the_ratios_take_both_quix_forms_and_the_mean_of_the_ceilings() -> None:
    r = result()
    assert (r.ratio_to_quix, r.cpu_ratio_to_quix) == (3.0, 4.0)
    assert (r.ratio_to_quix_tuned, r.cpu_ratio_to_quix_tuned) == (2.0, 2.0)
    assert (r.ratio_to_ceiling, r.cpu_ratio_to_ceiling) == (0.8, 0.9)  # 24/30; 45/50
    assert r.fanout_events_per_s == 24_000


def test_the_report_prints_both_quix_ratios_and_each_pipeline() -> None:
    out = io.StringIO()
    report(Console(file=out, width=200, color_system=None), result())
    text = out.getvalue()
    assert "fanout/quix defaults 3.00 (4.00)" in text
    assert "fanout/quix tuned 2.00 (2.00)" in text
    assert "fanout/ceiling 0.80 (0.90)" in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if "│" in line}
    assert "8,000" in rows["Quix Streams (3 apps), library defaults"]
    assert "12,000" in rows["Quix Streams (3 apps), tuned"]
    assert "24,000" in rows["fanout (3 services)"]


def test_without_a_peer_no_quix_ratio_is_printed() -> None:
    r = result()
    del r.drains["quix"], r.drains["quix-tuned"]
    r.ratio_to_quix = r.ratio_to_quix_tuned = None
    out = io.StringIO()
    report(Console(file=out, width=200, color_system=None), r)
    assert "fanout/quix" not in out.getvalue()


def test_peer_quix_drains_both_forms() -> None:
    assert peers.pipelines(("quix",)) == ["quix", "quix-tuned"]
    assert peers.pipelines(()) == []


def test_the_ceiling_settings_come_from_the_environment() -> None:
    batch, kafka = ceiling.settings({})
    assert (batch, kafka) == (ceiling.BATCH, ceiling.KAFKA_DEFAULTS)
    batch, kafka = ceiling.settings(
        {"CEILING_BATCH": "20000", "CEILING_KAFKA_FETCH_MIN_BYTES": "1048576", "OTHER": "x"}
    )
    assert batch == 20_000
    assert kafka == {**ceiling.KAFKA_DEFAULTS, "fetch.min.bytes": "1048576"}
