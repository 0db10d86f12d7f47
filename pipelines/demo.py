"""``rwa demo``: the main job on embedded defaults.

Simulate the reference assets -> bronze -> silver -> gold -> serving store, then print what
each layer holds, the quarantine count and the timings. Every step is idempotent, so a rerun
over the same window changes nothing and says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO, TypeVar

from pipelines import steps
from pipelines.bronze.writer import bronze_inventory
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.serving import check_store_writable

T = TypeVar("T")


@dataclass
class DemoReport:
    timings: dict[str, float] = field(default_factory=dict)
    layers: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantined: int = 0
    steps: dict[str, str] = field(default_factory=dict)


def run_demo(settings: Settings, out: TextIO) -> DemoReport:
    report = DemoReport()
    source = steps.simulated_source(settings)
    # The load is the last step: what would make it fail must fail before minutes of lake work.
    check_store_writable(settings.serving)
    window = source.window
    out.write(
        f"rwa demo: {len(source.assets)} assets x {settings.simulation.days} days at "
        f"{settings.simulation.frequency} "
        f"({window.start:%Y-%m-%d} .. {window.end:%Y-%m-%d}, seed {settings.simulation.seed})\n"
        f"lake {settings.lake.root}  serving {settings.serving.backend}\n\n"
    )

    def step(name: str, run: Callable[[], T], describe: Callable[[T], str]) -> T:
        started = time.perf_counter()
        result = run()
        report.timings[name] = time.perf_counter() - started
        report.steps[name] = describe(result)
        out.write(f"  {name:<18} {report.timings[name]:7.1f} s  {report.steps[name]}\n")
        out.flush()
        return result

    step(
        "simulate -> bronze",
        lambda: steps.land_simulated(settings),
        lambda r: (
            f"{r.records:,} envelopes in {r.objects_written:,} new objects "
            f"({r.objects_present:,} objects already there)"
        ),
    )
    step(
        "bronze -> silver",
        lambda: steps.run_silver_all(settings),
        lambda reports: "; ".join(
            f"{name} {r.records_in:,} in, {r.inserted:,} inserted, {r.updated:,} updated, "
            f"{r.quarantined:,} quarantined"
            for name, r in reports.items()
        ),
    )
    step(
        "silver -> gold",
        lambda: steps.run_gold(settings),
        lambda r: ", ".join(f"{table}: {rows:,} rows" for table, rows in r.rows.items()),
    )
    step(
        "forecasting",
        lambda: steps.run_forecast(settings),
        lambda r: (
            f"{len(r.forecasts)} assets, {r.rows_written:,} prediction rows"
            + (f", {len(r.skipped)} skipped (short history)" if r.skipped else "")
        ),
    )
    step(
        "news sentiment",
        lambda: steps.run_sentiment(settings),
        lambda r: (
            f"{r.days_scored:,} asset-days, {r.articles_scored:,} articles scored "
            f"({r.model_version})"
        ),
    )
    step(
        "risk scoring",
        lambda: steps.run_risk(settings),
        lambda r: (
            f"{len(r.scores)} assets as of {r.as_of}, composite "
            f"{min(s.composite for s in r.scores)}-{max(s.composite for s in r.scores)}"
        ),
    )
    step(
        "gold -> serving",
        lambda: steps.load_serving(settings),
        lambda r: (
            f"{r.assets} assets, "
            + ", ".join(f"{rows:,} {res} bars" for res, rows in r.bars.items())
            + " upserted"
        ),
    )
    report.layers = layer_counts(settings)
    report.quarantined = report.layers["silver"].get("quarantine", 0)
    _print_summary(settings, report, out)
    return report


def layer_counts(settings: Settings) -> dict[str, dict[str, int]]:
    """What each layer holds now (whole tables, not just this run's share)."""
    from pipelines.serving import open_store

    paths = LakePaths(settings.lake)
    lake = DeltaLake(settings.lake, settings.spark)
    inventory = bronze_inventory(open_object_store(settings.lake))
    with open_store(settings.serving, read_only=True) as store:
        serving = store.table_counts()
    return {
        "bronze": {f"{dataset} envelopes": records for dataset, (_, records) in inventory.items()}
        | {"objects": sum(objects for objects, _ in inventory.values())},
        "silver": {
            "prices": lake.count_rows(paths.silver("prices")),
            "quarantine": lake.count_rows(paths.quarantine),
            **{name: lake.count_rows(paths.silver(name)) for name in ("onchain", "economic")},
            "news": lake.count_rows(paths.silver("news")),
        },
        "gold": {table: lake.count_rows(uri) for table, uri in _gold_tables(settings).items()},
        "serving": serving,
    }


def _gold_tables(settings: Settings) -> dict[str, str]:
    return steps.gold_table_uris(settings)


def _print_summary(settings: Settings, report: DemoReport, out: TextIO) -> None:
    out.write("\nrows per layer\n")
    for layer, counts in report.layers.items():
        cells = ", ".join(f"{name} {count:,}" for name, count in counts.items())
        out.write(f"  {layer:<8} {cells}\n")
    total = sum(report.timings.values())
    out.write(
        f"\nquarantined records: {report.quarantined:,} (silver/quarantine, with reasons)\n"
        f"total {total:.1f} s\n\n"
        f"Start the API:  rwa serve   ->  http://{settings.api.host}:{settings.api.port}/docs\n"
    )
