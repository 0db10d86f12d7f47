"""The pipeline steps, wired from settings: what the CLI, the demo and Dagster assets call.

Each function runs one step end to end and returns its report; none holds state between calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.bronze.lander import BronzeLander, LanderReport
from pipelines.bronze.mirror import mirror_bronze
from pipelines.bronze.object_store import open_object_store
from pipelines.bronze.writer import BronzeWriter, LandingReport
from pipelines.core.settings import Settings
from pipelines.gold.ohlcv import GOLD_RESOLUTIONS, GoldOhlcvJob, GoldRunReport, gold_table_name
from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.bus import Bus, BusReport
from pipelines.ingestion.registry import get_connector
from pipelines.ingestion.simulated import SimulatedSource
from pipelines.kafka.client import kafka_errors
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lake.spark import get_spark
from pipelines.reference import load_assets
from pipelines.reference.model import Asset
from pipelines.serving import open_store
from pipelines.serving.load import load_gold_ohlcv
from pipelines.silver.prices import SilverPricesJob, SilverRunReport
from pipelines.silver.quarantine import QuarantineSink


def simulated_source(settings: Settings) -> SimulatedSource:
    """The simulated source the ``RWA_SIM_*`` settings describe, over the reference assets."""
    return SimulatedSource.from_settings(settings, load_assets())


def land_simulated(settings: Settings) -> LandingReport:
    """Simulate every dataset for the configured window and land it in bronze."""
    source = simulated_source(settings)
    writer = BronzeWriter(open_object_store(settings))
    return writer.land(source.collect(source.window))


def ingest_window(settings: Settings, now: dt.datetime | None = None) -> FetchWindow:
    """The window ``rwa ingest`` fetches: ``RWA_SIM_DAYS`` whole UTC days up to ``RWA_SIM_END``
    (exclusive), or, with no end set, up to ``now`` (so polling sources see today's data).
    For the simulated source this is exactly its simulated span."""
    if settings.sim_end is not None:
        end = dt.datetime.combine(settings.sim_end, dt.time(), tzinfo=dt.UTC)
    else:
        end = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    first = end.date() - dt.timedelta(days=settings.sim_days)
    return FetchWindow(dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC), end)


def ingest(settings: Settings, source: str, bus: Bus) -> BusReport:
    """Fetch the window of :func:`ingest_window` from the registered ``source`` and deliver
    every envelope through ``bus`` as it arrives (bronze directly, or Kafka)."""
    connector = get_connector(source, settings, load_assets())
    with kafka_errors(settings):
        return bus.send(connector.collect(ingest_window(settings)))


def land(
    settings: Settings,
    *,
    idle_exit_s: float | None = None,
    max_records: int | None = None,
    consumer_overrides: Mapping[str, Any] | None = None,
) -> LanderReport:
    """Run the bronze lander (Kafka -> bronze, exactly once) until it is stopped (SIGTERM),
    has seen nothing new for ``idle_exit_s`` seconds, or consumed ``max_records`` records."""
    with kafka_errors(settings):
        lander = BronzeLander(settings, consumer_overrides=consumer_overrides)
        return lander.run(stop_after_idle_s=idle_exit_s, max_records=max_records)


def symbol_map(assets: list[Asset]) -> dict[str, str]:
    """Reference ticker -> asset id, for normalising price symbols in silver."""
    return {asset.symbol: asset.asset_id for asset in assets}


def run_silver_prices(
    settings: Settings, after_batch: Callable[[int], None] | None = None
) -> SilverRunReport:
    paths = LakePaths(settings)
    if settings.lake_is_s3:
        mirror_bronze(open_object_store(settings), paths.bronze_local_root, dataset="prices")
    lake = DeltaLake(settings)
    job = SilverPricesJob(
        get_spark(settings),
        lake,
        bronze_root=paths.bronze_local_root,
        silver_uri=paths.silver("prices"),
        quarantine=QuarantineSink(lake, paths.quarantine),
        checkpoint_dir=paths.checkpoint("silver_prices"),
        symbols=symbol_map(load_assets()),
        max_files_per_trigger=settings.silver_max_files_per_trigger,
        after_batch=after_batch,
    )
    return job.run()


def gold_uris(settings: Settings) -> dict[str, str]:
    paths = LakePaths(settings)
    return {res: paths.gold(gold_table_name(res)) for res in GOLD_RESOLUTIONS}


def run_gold_ohlcv(settings: Settings) -> GoldRunReport:
    paths = LakePaths(settings)
    job = GoldOhlcvJob(
        get_spark(settings),
        DeltaLake(settings),
        silver_uri=paths.silver("prices"),
        gold_uri=gold_uris(settings),
    )
    return job.run()


@dataclass
class ServingLoadReport:
    assets: int = 0
    bars: dict[str, int] = field(default_factory=dict)
    table_counts: dict[str, int] = field(default_factory=dict)


def load_serving(settings: Settings) -> ServingLoadReport:
    """Migrate the serving store, then upsert the reference assets and every gold OHLCV table."""
    lake = DeltaLake(settings)
    report = ServingLoadReport()
    with open_store(settings) as store:
        store.migrate()
        report.assets = store.upsert_assets(load_assets())
        for resolution, uri in gold_uris(settings).items():
            report.bars[resolution] = load_gold_ohlcv(store, lake, uri)
        report.table_counts = store.table_counts()
    return report
