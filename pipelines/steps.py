"""The pipeline steps, wired from settings: what the CLI, the demo and Dagster assets call.

Each function runs one step end to end and returns its report; none holds state between calls.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.forecast.backtest import AssetBacktest, backtest_asset
from models.forecast.batch import ForecastRunReport, forecast_lake
from models.forecast.forecasters import AutoArima
from models.registry import ModelRegistry
from models.risk.batch import RiskRunReport, score_lake
from models.sentiment.batch import SentimentRunReport, score_sentiment
from models.sentiment.scorers import load_scorer
from pipelines.bronze.lander import BronzeLander, LanderReport
from pipelines.bronze.mirror import mirror_bronze
from pipelines.bronze.writer import BronzeWriter, LandingReport
from pipelines.contracts.envelope import object_dataset
from pipelines.contracts.gold import GOLD_TABLES, OHLCV_TABLES
from pipelines.contracts.silver import QUARANTINED_OBJECTS
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import Settings
from pipelines.gold.build import GoldJob, GoldRunReport
from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.bus import Bus, BusReport
from pipelines.ingestion.registry import get_connector
from pipelines.ingestion.simulated import SimulatedSource
from pipelines.kafka.client import kafka_errors
from pipelines.lake.days import DayRange
from pipelines.lake.delta import DeltaLake
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.lake.spark import get_spark
from pipelines.quality.gate import QualityGate
from pipelines.quality.results import ExpectationResult
from pipelines.reference import load_assets
from pipelines.serving import open_store
from pipelines.serving.load import GoldLoadReport, load_gold
from pipelines.silver.lineage import days_about
from pipelines.silver.quarantine import (
    QUARANTINED,
    SET_ASIDE,
    ObjectStatus,
    QuarantinedObjects,
    QuarantineSink,
)
from pipelines.silver.reconciliation import Ledger
from pipelines.silver.registry import SILVER_DATASETS, dataset_spec
from pipelines.silver.spec import DatasetSpec
from pipelines.silver.stream import SilverJob, SilverJobSettings, SilverRunReport, SilverTargets


def simulated_source(settings: Settings) -> SimulatedSource:
    """The simulated source the ``RWA_SIM_*`` settings describe, over the reference assets."""
    return SimulatedSource.from_settings(settings.simulation, load_assets())


def land_simulated(settings: Settings) -> LandingReport:
    """Simulate every dataset for the configured window and land it in bronze."""
    source = simulated_source(settings)
    writer = BronzeWriter(open_object_store(settings.lake))
    return writer.land(source.collect(source.window))


def land_simulated_fetch_days(settings: Settings, days: DayRange) -> LandingReport:
    """Land what a daily fetch on each of ``days`` would have landed: the previous UTC day of
    every dataset, fetched just after midnight, so each lands in its own fetch day's bronze
    partition. Day by day, so landing a range equals landing its days one at a time."""
    writer = BronzeWriter(open_object_store(settings.lake))
    assets = load_assets()
    total = LandingReport()
    for day in days.days():
        one_day = settings.updated(sim_end=day, sim_days=1)
        source = SimulatedSource.from_settings(one_day.simulation, assets)
        landed = writer.land(source.collect(source.window))
        total.records += landed.records
        total.objects_written += landed.objects_written
        total.objects_present += landed.objects_present
        total.keys += landed.keys
    return total


def ingest_window(settings: Settings, now: dt.datetime | None = None) -> FetchWindow:
    """The window ``rwa ingest`` fetches: ``RWA_SIM_DAYS`` whole UTC days up to ``RWA_SIM_END``
    (exclusive), or, with no end set, up to ``now`` (so polling sources see today's data).
    For the simulated source this is exactly its simulated span."""
    if settings.simulation.end is not None:
        end = dt.datetime.combine(settings.simulation.end, dt.time(), tzinfo=dt.UTC)
    else:
        end = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    first = end.date() - dt.timedelta(days=settings.simulation.days)
    return FetchWindow(dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC), end)


def ingest(settings: Settings, source: str, bus: Bus) -> BusReport:
    """Fetch the window of :func:`ingest_window` from the registered ``source`` and deliver
    every envelope through ``bus`` as it arrives (bronze directly, or Kafka)."""
    connector = get_connector(source, settings.sources, settings.simulation, load_assets())
    with kafka_errors(settings.kafka):
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
    with kafka_errors(settings.kafka):
        lander = BronzeLander(
            settings.kafka, open_object_store(settings.lake), consumer_overrides=consumer_overrides
        )
        return lander.run(stop_after_idle_s=idle_exit_s, max_records=max_records)


def run_silver(
    settings: Settings,
    dataset: str,
    after_batch: Callable[[int], None] | None = None,
    gate: QualityGate | None = None,
    backfill: DayRange | None = None,
) -> SilverRunReport:
    """Stream the new bronze objects of ``dataset`` into ``silver/<dataset>`` (availableNow),
    or, with ``backfill``, reprocess every bronze object fetched on those days (see
    :mod:`pipelines.silver.stream`). Raises DataQualityError when a batch refuses too large a share
    of its records, and DataContractError when the existing table conflicts with the declared
    schema."""
    spec = dataset_spec(dataset, load_assets())
    checkpoint = spec.checkpoint_name
    if backfill is not None:
        checkpoint = f"backfill_{checkpoint}_{backfill.first}_{backfill.last}"
    job = _silver_job(settings, spec, checkpoint, gate, after_batch, backfill)
    return job.run()


def _silver_job(
    settings: Settings,
    spec: DatasetSpec,
    checkpoint: str,
    gate: QualityGate | None = None,
    after_batch: Callable[[int], None] | None = None,
    backfill: DayRange | None = None,
) -> SilverJob:
    paths = LakePaths(settings.lake)
    if settings.lake.is_s3:
        mirror_bronze(open_object_store(settings.lake), paths.bronze_local_root, dataset=spec.name)
    lake = DeltaLake(settings.lake, settings.spark)
    targets = SilverTargets(
        bronze_root=paths.bronze_local_root,
        silver_uri=paths.silver(spec.name),
        checkpoint_dir=paths.checkpoint(checkpoint),
        quarantine=QuarantineSink(lake, paths.quarantine),
        ledger=Ledger(lake, paths.reconciliation),
        objects=quarantined_objects(settings),
    )
    return SilverJob(
        get_spark(settings.spark),
        lake,
        spec,
        targets,
        gate=gate or QualityGate.from_settings(settings.quality, lake, paths),
        settings=SilverJobSettings(settings.lake, settings.spark, settings.quality),
        after_batch=after_batch,
        backfill=backfill,
    )


# --- bronze objects quarantined whole (``rwa quarantine``, docs/quality.md) -----------------


def quarantined_objects(settings: Settings) -> QuarantinedObjects:
    """The list of bronze objects quarantined whole (``silver/quarantined_objects``)."""
    return QuarantinedObjects(
        DeltaLake(settings.lake, settings.spark),
        LakePaths(settings.lake).silver(QUARANTINED_OBJECTS.name),
    )


def bronze_object_dataset(settings: Settings, bronze_file: str) -> str:
    """The silver dataset of a bronze object named by its lake-relative key (as
    ``rwa quarantine list`` shows it); NotFoundError when no such object exists."""
    dataset = object_dataset(bronze_file)
    if dataset is None or dataset not in SILVER_DATASETS:
        raise NotFoundError(
            f"{bronze_file!r} is not a bronze object of a silver dataset: expected "
            f"bronze/source=<s>/dataset=<{'|'.join(SILVER_DATASETS)}>/date=<day>/<name>"
        )
    if not open_object_store(settings.lake).exists(bronze_file):
        raise NotFoundError(f"no bronze object {bronze_file} in {settings.lake.root}")
    return dataset


def set_aside_object(settings: Settings, bronze_file: str, note: str) -> ObjectStatus:
    """Set a bronze object aside: silver quarantines it whole without judging it and it no
    longer stops the job. Idempotent; returns the object's status afterwards."""
    dataset = bronze_object_dataset(settings, bronze_file)
    return quarantined_objects(settings).set_aside(dataset, bronze_file, note)


@dataclass
class ReplayReport:
    bronze_file: str
    #: The object's status before the replay; a replayed object is not replayed again.
    status_before: str
    silver: SilverRunReport | None = None


def replay_object(settings: Settings, bronze_file: str) -> ReplayReport:
    """Take a quarantined (or set-aside) object into silver now, exactly once: its records
    are judged as a batch of their own and merged like a backfill (latest fetch wins).
    Raises DataQualityError, merging nothing, while the object is still broken."""
    dataset = bronze_object_dataset(settings, bronze_file)
    status = quarantined_objects(settings).statuses(dataset).get(bronze_file)
    if status is None:
        raise NotFoundError(
            f"{bronze_file} is not in quarantine (`rwa quarantine list`): a new object is taken "
            f"in by `rwa silver`"
        )
    report = ReplayReport(bronze_file, status)
    if status in (QUARANTINED, SET_ASIDE):
        spec = dataset_spec(dataset, load_assets())
        report.silver = _silver_job(settings, spec, f"replay_{spec.checkpoint_name}").replay(
            bronze_file
        )
    return report


def check_silver_table(settings: Settings, dataset: str) -> list[ExpectationResult]:
    """The table-level expectations (key uniqueness, freshness) of ``silver/<dataset>``, run
    and stored now; none while the table does not exist."""
    lake, paths = DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake)
    uri = paths.silver(dataset)
    if not lake.exists(uri):
        return []
    gate = QualityGate.from_settings(settings.quality, lake, paths)
    return gate.check_table(dataset, uri, run_id=uuid.uuid4().hex)


def run_silver_all(
    settings: Settings,
    datasets: Sequence[str] = SILVER_DATASETS,
    backfill: DayRange | None = None,
) -> dict[str, SilverRunReport]:
    """:func:`run_silver` for each dataset in turn, sharing one quality gate."""
    lake = DeltaLake(settings.lake, settings.spark)
    gate = QualityGate.from_settings(settings.quality, lake, LakePaths(settings.lake))
    return {
        dataset: run_silver(settings, dataset, gate=gate, backfill=backfill) for dataset in datasets
    }


def run_silver_prices(
    settings: Settings, after_batch: Callable[[int], None] | None = None
) -> SilverRunReport:
    """Silver prices only (kept for callers that need just the price bars)."""
    return run_silver(settings, "prices", after_batch)


def gold_uris(settings: Settings) -> dict[str, str]:
    """URI of each gold OHLCV table by resolution (``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``)."""
    paths = LakePaths(settings.lake)
    return {res: paths.gold(table.name) for res, table in OHLCV_TABLES.items()}


def gold_table_uris(settings: Settings) -> dict[str, str]:
    """URI of every gold table by name (``ohlcv_1h``, ``features_daily``, ...)."""
    paths = LakePaths(settings.lake)
    return {table.name: paths.gold(table.name) for table in GOLD_TABLES}


def run_gold(settings: Settings, dates: tuple[dt.date, dt.date] | None = None) -> GoldRunReport:
    """Build every gold table from silver: all days (``dates`` None), or only the inclusive
    ``(first, last)`` days, replacing exactly those days (a backfill equals a full run)."""
    job = GoldJob(
        get_spark(settings.spark),
        DeltaLake(settings.lake, settings.spark),
        LakePaths(settings.lake),
        load_assets(),
    )
    return job.run(dates)


@dataclass
class BackfillReport:
    """What :func:`backfill` reprocessed: bronze fetch days, silver per dataset, and the gold
    days rebuilt (None, with ``gold`` None, when no valid record was found)."""

    days: DayRange
    silver: dict[str, SilverRunReport]
    gold_days: DayRange | None = None
    gold: GoldRunReport | None = None


def backfill(
    settings: Settings,
    first: dt.date,
    last: dt.date,
    datasets: Sequence[str] = SILVER_DATASETS,
) -> BackfillReport:
    """Reprocess the bronze objects fetched from ``first`` to ``last`` (inclusive) into silver,
    then rebuild the gold days of :func:`gold_days_after` (nothing when no silver row came from
    those fetches). The result equals what the streaming path builds from the same bronze; a
    rerun changes nothing."""
    days = DayRange(first, last)
    report = BackfillReport(days, run_silver_all(settings, datasets, backfill=days))
    report.gold_days = gold_days_after(settings, days, datasets)
    if report.gold_days is not None:
        report.gold = run_gold(settings, (report.gold_days.first, report.gold_days.last))
    return report


def gold_days_after(
    settings: Settings, fetched: DayRange, datasets: Sequence[str] = SILVER_DATASETS
) -> DayRange | None:
    """The gold days to rebuild once silver holds the bronze fetched on ``fetched``: from the
    first day those silver rows are about up to the latest day of ``silver/prices`` (later days'
    trailing windows and as-of values can depend on them); None when silver holds none."""
    lake, paths, assets = (
        DeltaLake(settings.lake, settings.spark),
        LakePaths(settings.lake),
        load_assets(),
    )
    touched: DayRange | None = None
    for dataset in datasets:
        about = days_about(lake, paths.silver(dataset), dataset_spec(dataset, assets), fetched)
        if about is not None:
            touched = about.hull(touched)
    if touched is None:
        return None
    latest = lake.max_value(paths.silver("prices"), "date")
    return DayRange(touched.first, max(touched.last, latest or touched.last))


def run_risk(settings: Settings, as_of: dt.date | None = None) -> RiskRunReport:
    """Score every reference asset as of ``as_of`` (default: the latest daily bar) into
    ``gold/risk_scores`` (methodology: docs/risk.md)."""
    return score_lake(
        DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake), load_assets(), as_of
    )


def run_forecast(settings: Settings, *, reselect: bool = True) -> ForecastRunReport:
    """7- and 30-day forecasts with 80%/95% intervals per asset into ``gold/predictions``; each
    fitted model saved with its evaluation metrics under ``models/`` in the lake. Without
    ``reselect`` each asset keeps its registered model order (see ``forecast_lake``)."""
    registry = ModelRegistry(open_object_store(settings.lake))
    lake, paths = DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake)
    return forecast_lake(
        lake,
        paths,
        load_assets(),
        registry,
        reselect=reselect,
        model=settings.models.forecast_model,
    )


def run_backtest(
    settings: Settings, days: int = 60, asset_ids: Sequence[str] | None = None
) -> list[AssetBacktest]:
    """Backtest, over the last ``days`` days of ``gold/ohlcv_1d``, buy-and-hold beside a
    signal on the 1-day ARIMA forecast (the asset's registered order, refit daily on the past
    only) and a signal on the day's news sentiment (``gold/sentiment_daily``)."""
    lake, paths = DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake)
    registry = ModelRegistry(open_object_store(settings.lake))
    bars = lake.to_arrow(paths.gold("ohlcv_1d")).select(["asset_id", "date", "close"]).to_pandas()
    scores = lake.to_arrow(paths.gold("sentiment_daily")).to_pandas()
    results = []
    for asset_id in asset_ids or sorted(bars["asset_id"].unique()):
        mine = bars[bars["asset_id"] == asset_id].sort_values("date")
        if len(mine) < days + 30:
            continue
        mood = scores[scores["asset_id"] == asset_id].set_index("date")["sentiment_score"]
        sentiment = mood.reindex(list(mine["date"])).to_numpy(float)
        latest = registry.latest(f"arima-{asset_id}")
        order = latest.params.get("order") if latest is not None else None
        forecaster = AutoArima(order=tuple(order) if order else None)
        results.append(
            backtest_asset(asset_id, mine["close"].to_numpy(float), sentiment, forecaster, days)
        )
    return results


def run_sentiment(settings: Settings) -> SentimentRunReport:
    """Score the news of every asset-day gold marked as unscored (FinBERT from
    ``RWA_SENTIMENT_MODEL``, or the finance lexicon when it cannot be loaded)."""
    scorer = load_scorer(settings.models)
    return score_sentiment(
        DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake), scorer
    )


@dataclass
class ServingLoadReport:
    assets: int = 0
    #: OHLCV bars loaded per resolution ("1h": n); every source is in ``gold.rows``.
    bars: dict[str, int] = field(default_factory=dict)
    table_counts: dict[str, int] = field(default_factory=dict)
    gold: GoldLoadReport = field(default_factory=GoldLoadReport)


def load_serving(settings: Settings, now: dt.datetime | None = None) -> ServingLoadReport:
    """Migrate the serving store, upsert the reference assets, then every built gold table and
    silver/economic (:func:`~pipelines.serving.load.load_gold`: skips tables not built yet,
    refreshes the weekly bars, applies intraday retention as of ``now``)."""
    report = ServingLoadReport()
    with open_store(settings.serving) as store:
        store.migrate()
        report.assets = store.upsert_assets(load_assets())
        report.gold = load_gold(
            store, DeltaLake(settings.lake, settings.spark), LakePaths(settings.lake), now
        )
        report.bars = {
            label.removeprefix("gold/ohlcv_"): rows
            for label, rows in report.gold.rows.items()
            if label.startswith("gold/ohlcv_")
        }
        report.table_counts = store.table_counts()
    return report
