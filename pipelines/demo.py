"""``rwa demo``: the whole pipeline on embedded defaults.

Simulate the reference assets -> bronze -> silver -> gold -> serving store, then print what
each layer holds, the quarantine count and the timings. Every step is idempotent, so a rerun
over the same window changes nothing and says so.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from pipelines import steps
from pipelines.lakehouse import Lakehouse


@dataclass
class DemoReport:
    timings: dict[str, float] = field(default_factory=dict)
    layers: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantined: int = 0
    steps: dict[str, str] = field(default_factory=dict)


def _landed(r: steps.LandingReport) -> str:
    return (
        f"{r.records:,} envelopes in {r.objects_written:,} new objects "
        f"({r.objects_present:,} objects already there)"
    )


def _silver(reports: dict[str, steps.SilverRunReport]) -> str:
    return "; ".join(
        f"{name} {r.records_in:,} in, {r.inserted:,} inserted, {r.updated:,} updated, "
        f"{r.quarantined:,} quarantined"
        for name, r in reports.items()
    )


def _gold(r: steps.GoldRunReport) -> str:
    return ", ".join(f"{table}: {rows:,} rows" for table, rows in r.rows.items())


def _forecasts(r: steps.ForecastRunReport) -> str:
    skipped = f", {len(r.skipped)} skipped (short history)" if r.skipped else ""
    return f"{len(r.forecasts)} assets, {r.rows_written:,} prediction rows{skipped}"


def _sentiment(r: steps.SentimentRunReport) -> str:
    return (
        f"{r.days_scored:,} asset-days, {r.articles_scored:,} articles scored ({r.model_version})"
    )


def _risk(r: steps.RiskRunReport) -> str:
    composites = [s.composite for s in r.scores]
    return f"{len(r.scores)} assets as of {r.as_of}, composite {min(composites)}-{max(composites)}"


def _served(r: steps.ServingLoadReport) -> str:
    bars = ", ".join(f"{rows:,} {res} bars" for res, rows in r.bars.items())
    return f"{r.assets} assets, {bars} upserted"


#: The demo's steps in order: name, step, one-line description of its report.
DEMO_STEPS: list[tuple[str, Callable[[Lakehouse], Any], Callable[[Any], str]]] = [
    ("simulate -> bronze", steps.land_simulated, _landed),
    ("bronze -> silver", steps.run_silver_all, _silver),
    ("silver -> gold", steps.run_gold, _gold),
    ("forecasting", steps.run_forecast, _forecasts),
    ("news sentiment", steps.run_sentiment, _sentiment),
    ("risk scoring", steps.run_risk, _risk),
    ("gold -> serving", steps.load_serving, _served),
]


def run_demo(lakehouse: Lakehouse, out: TextIO) -> DemoReport:
    report = DemoReport()
    source = steps.simulated_source(lakehouse)
    # The load is the last step: what would make it fail must fail before minutes of lake work.
    steps.check_serving_writable(lakehouse)
    _print_header(lakehouse, source, out)
    _start_spark_meanwhile(lakehouse)
    for name, run, describe in DEMO_STEPS:
        started = time.perf_counter()
        result = run(lakehouse)
        report.timings[name] = time.perf_counter() - started
        report.steps[name] = describe(result)
        out.write(f"  {name:<18} {report.timings[name]:7.1f} s  {report.steps[name]}\n")
        out.flush()
    report.layers = steps.layer_counts(lakehouse)
    report.quarantined = report.layers["silver"].get("quarantine", 0)
    _print_summary(lakehouse, report, out)
    return report


def _start_spark_meanwhile(lakehouse: Lakehouse) -> None:
    """Start Spark's JVM (seconds of class loading, on the second core) while the simulation
    lands bronze in Python. The first step that uses the session (gold, when silver runs on
    the in-process DuckDB engine) waits for it; should the start fail here, that use starts it
    again and raises the error itself."""

    def start() -> None:
        with contextlib.suppress(Exception):
            lakehouse.spark  # noqa: B018 -- the property starts the session

    threading.Thread(target=start, name="spark-start", daemon=True).start()


def _print_header(lakehouse: Lakehouse, source: steps.SimulatedSource, out: TextIO) -> None:
    settings, window = lakehouse.settings, source.window
    out.write(
        f"rwa demo: {len(source.assets)} assets x "
        f"{settings.simulation.days} days at {settings.simulation.frequency} "
        f"({window.start:%Y-%m-%d} .. {window.end:%Y-%m-%d}, seed {settings.simulation.seed})\n"
        f"lake {settings.lake.root}  serving {settings.serving.backend}\n\n"
    )


def _print_summary(lakehouse: Lakehouse, report: DemoReport, out: TextIO) -> None:
    out.write("\nrows per layer\n")
    for layer, counts in report.layers.items():
        cells = ", ".join(f"{name} {count:,}" for name, count in counts.items())
        out.write(f"  {layer:<8} {cells}\n")
    total = sum(report.timings.values())
    api = lakehouse.settings.api
    out.write(
        f"\nquarantined records: {report.quarantined:,} (silver/quarantine, with reasons)\n"
        f"total {total:.1f} s\n\n"
        f"Start the API:  rwa serve   ->  http://{api.host}:{api.port}/docs\n"
    )
