"""The pipeline steps: what the CLI, the demo and the Dagster assets call.

Each function runs one step end to end on a :class:`~pipelines.lakehouse.Lakehouse` (the lake,
paths, object store, asset catalogue and Spark session built once from settings) and returns
its report; none holds state between calls, and those that do large work give what they freed
back to the system when they end (:func:`~pipelines.core.allocator.trimmed_after`), so a
process that runs them one after another does not carry one step's memory into the next. Each
hands a component only what it needs: a settings section or one of the lakehouse's built
objects.

The declarations the callers name that are not contracts (report types, model table names,
dataset names) are re-exported here, so that the CLI, the demo and Dagster reach nothing below
this module, the lakehouse and :mod:`pipelines.contracts`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from models.forecast.backtest import AssetBacktest as AssetBacktest
from models.forecast.batch import PREDICTIONS_TABLE as PREDICTIONS_TABLE
from models.forecast.batch import ForecastRunReport as ForecastRunReport
from models.forecast.batch import forecast_lake
from models.forecast.monitor import LiveAccuracy, live_accuracy
from models.forecast.signals import DEFAULT_DAYS as DEFAULT_SIGNAL_DAYS
from models.forecast.signals import SIGNALS_TABLE as SIGNALS_TABLE
from models.forecast.signals import SignalRunReport as SignalRunReport
from models.forecast.signals import backtest_lake, signals_lake
from models.registry import ModelRegistry as ModelRegistry
from models.risk.batch import RISK_TABLE as RISK_TABLE
from models.risk.batch import RiskRunReport as RiskRunReport
from models.risk.batch import score_lake
from models.risk.engine import MODEL_VERSION
from models.sentiment.batch import SentimentRunReport as SentimentRunReport
from models.sentiment.batch import score_sentiment
from models.sentiment.scorers import load_scorer
from pipelines.bronze.lander import BronzeLander, LanderReport
from pipelines.bronze.writer import BronzeWriter, bronze_inventory
from pipelines.bronze.writer import LandingReport as LandingReport
from pipelines.contracts.envelope import (
    BRONZE_PREFIX,
    RawEnvelope,
    object_dataset,
    partition_prefix,
)
from pipelines.contracts.gold import GOLD_TABLES, OHLCV_TABLES, SENTIMENT_DAILY
from pipelines.core.allocator import trimmed_after
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import ModelSettings
from pipelines.gold.build import GoldBuild
from pipelines.gold.build import GoldRunReport as GoldRunReport
from pipelines.ingestion.base import FetchWindow
from pipelines.ingestion.bus import Bus, open_bus
from pipelines.ingestion.bus import BusKind as BusKind
from pipelines.ingestion.bus import BusReport as BusReport
from pipelines.ingestion.registry import get_connector, known_sources
from pipelines.ingestion.simulated import SimulatedSource as SimulatedSource
from pipelines.kafka.client import kafka_errors
from pipelines.lake.days import DayRange as DayRange
from pipelines.lake.maintenance import MaintenanceReport, maintain_lake
from pipelines.lakehouse import Lakehouse
from pipelines.quality.results import ExpectationResult as ExpectationResult
from pipelines.quality.results import format_results, latest_results
from pipelines.serving import check_store_writable, open_store
from pipelines.serving.load import GoldLoadReport, load_gold
from pipelines.silver.lineage import days_about
from pipelines.silver.quarantine import (
    QUARANTINED,
    SET_ASIDE,
    ObjectStatus,
    format_objects,
)
from pipelines.silver.quarantine import REPLAYED as REPLAYED
from pipelines.silver.registry import SILVER_DATASETS as SILVER_DATASETS
from pipelines.silver.registry import dataset_spec
from pipelines.silver.stream import SilverRunReport as SilverRunReport
from pipelines.silver_run import quality_gate, silver_stream
from pipelines.silver_run import quarantined_objects as quarantined_objects
from pipelines.silver_run import run_silver as run_silver
from pipelines.silver_run import run_silver_all as run_silver_all
from pipelines.silver_run import silver_engine as silver_engine

#: The version the risk scores of this code carry (``gold/risk_scores.model_version``).
RISK_MODEL_VERSION: str = MODEL_VERSION


# --- sources -> bronze ------------------------------------------------------------------------


def simulated_source(lakehouse: Lakehouse) -> SimulatedSource:
    """The simulated source the ``RWA_SIM_*`` settings describe, over the reference assets."""
    return SimulatedSource.from_settings(lakehouse.settings.simulation, lakehouse.assets)


@trimmed_after
def land_simulated(lakehouse: Lakehouse) -> LandingReport:
    """Simulate every dataset for the configured window and land it in bronze, whole bronze
    partitions at a time (see :func:`land_by_partition`)."""
    source = simulated_source(lakehouse)
    return land_by_partition(BronzeWriter(lakehouse.objects), source.collect(source.window))


#: Envelopes, and payload records (:func:`payload_records`), that :func:`land_by_partition`
#: gathers (whole partitions) before landing them together in one call of the bronze writer.
#: The count alone let what is held grow with the bar frequency: 1,000 envelopes of 96
#: quarter-hour bars held some 100 MB of parsed payloads, 4x the hourly demo's. The demo's
#: landings are those of the count (its prices envelopes hold 24 bars each).
LANDING_BATCH_ENVELOPES = 1_000
LANDING_BATCH_RECORDS = 24_000


def land_by_partition(
    writer: BronzeWriter,
    envelopes: Iterable[RawEnvelope],
    *,
    batch_envelopes: int = LANDING_BATCH_ENVELOPES,
    batch_records: int = LANDING_BATCH_RECORDS,
) -> LandingReport:
    """Land ``envelopes`` as they arrive, whole partitions (source, dataset, fetch day) at a
    time, gathered until at least ``batch_envelopes`` envelopes or ``batch_records`` payload
    records are held, instead of holding all of them: the objects are those one
    ``writer.land`` of everything writes, because every partition is landed whole. The
    envelopes must come partition after partition (the simulated source sends them dataset by
    dataset, day by day); a partition met again after another raises RuntimeError, as landing
    it twice would split it into other objects."""
    total = LandingReport()
    landed: set[str] = set()
    held: list[RawEnvelope] = []
    records = 0
    for prefix, run in itertools.groupby(envelopes, key=_partition_of):
        if prefix in landed:
            raise RuntimeError(f"the envelopes of {prefix} do not come together")
        landed.add(prefix)
        for envelope in run:
            held.append(envelope)
            records += payload_records(envelope.payload)
        if len(held) >= batch_envelopes or records >= batch_records:
            total.add(writer.land(held))
            held, records = [], 0
    if held:
        total.add(writer.land(held))
    return total


def payload_records(payload: Any) -> int:
    """What a payload holds, as a cheap measure of its size (it is parsed JSON, not yet
    encoded): the items of a list payload, or of the list values of an object payload (a
    page's logs and blocks, a listing's articles); 1 for anything else."""
    if isinstance(payload, list):
        return len(payload)
    if isinstance(payload, dict):
        return max(1, sum(len(value) for value in payload.values() if isinstance(value, list)))
    return 1


def _partition_of(envelope: RawEnvelope) -> str:
    return partition_prefix(envelope.source, envelope.dataset, envelope.fetched_date.isoformat())


@trimmed_after
def land_simulated_fetch_days(lakehouse: Lakehouse, days: DayRange) -> LandingReport:
    """Land what a daily fetch on each of ``days`` would have landed: the previous UTC day of
    every dataset, fetched just after midnight, so each lands in its own fetch day's bronze
    partition. Day by day, so landing a range equals landing its days one at a time."""
    writer = BronzeWriter(lakehouse.objects)
    total = LandingReport()
    for day in days.days():
        one_day = lakehouse.settings.updated(sim_end=day, sim_days=1)
        source = SimulatedSource.from_settings(one_day.simulation, lakehouse.assets)
        landed = writer.land(source.collect(source.window))
        total.records += landed.records
        total.objects_written += landed.objects_written
        total.objects_present += landed.objects_present
        total.keys += landed.keys
    return total


def source_names() -> list[str]:
    """The registered sources (``rwa ingest --source``), sorted."""
    return known_sources()


def check_source(lakehouse: Lakehouse, source: str) -> None:
    """Fail now (ConfigurationError) when ``source`` is unknown or lacks its API key."""
    get_connector(
        source, lakehouse.settings.sources, lakehouse.settings.simulation, lakehouse.assets
    )


def ingest_window(lakehouse: Lakehouse, now: dt.datetime | None = None) -> FetchWindow:
    """The window ``rwa ingest`` fetches: ``RWA_SIM_DAYS`` whole UTC days up to ``RWA_SIM_END``
    (exclusive), or, with no end set, up to ``now`` (so polling sources see today's data).
    For the simulated source this is exactly its simulated span."""
    simulation = lakehouse.settings.simulation
    if simulation.end is not None:
        end = dt.datetime.combine(simulation.end, dt.time(), tzinfo=dt.UTC)
    else:
        end = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    first = end.date() - dt.timedelta(days=simulation.days)
    return FetchWindow(dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC), end)


def bus_for(lakehouse: Lakehouse, kind: BusKind) -> Bus:
    """The bus ``kind`` (``direct``: bronze now; ``kafka``: the raw topics, ensured); use it
    in a ``with`` block."""
    return open_bus(kind, lakehouse.settings.kafka, lakehouse.settings.lake)


def ingest(lakehouse: Lakehouse, source: str, bus: Bus) -> BusReport:
    """Fetch the window of :func:`ingest_window` from the registered ``source`` and deliver
    every envelope through ``bus`` as it arrives (bronze directly, or Kafka)."""
    connector = get_connector(
        source, lakehouse.settings.sources, lakehouse.settings.simulation, lakehouse.assets
    )
    with kafka_errors(lakehouse.settings.kafka):
        return bus.send(connector.collect(ingest_window(lakehouse)))


@trimmed_after
def land(
    lakehouse: Lakehouse,
    *,
    idle_exit_s: float | None = None,
    max_records: int | None = None,
    consumer_overrides: Mapping[str, Any] | None = None,
) -> LanderReport:
    """Run the bronze lander (Kafka -> bronze, exactly once) until it is stopped (SIGTERM),
    has seen nothing new for ``idle_exit_s`` seconds, or consumed ``max_records`` records."""
    with kafka_errors(lakehouse.settings.kafka):
        lander = BronzeLander(
            lakehouse.settings.kafka, lakehouse.objects, consumer_overrides=consumer_overrides
        )
        return lander.run(stop_after_idle_s=idle_exit_s, max_records=max_records)


def bronze_object_keys(lakehouse: Lakehouse) -> Iterator[str]:
    """The key of every bronze object (listing only: nothing is read)."""
    return lakehouse.objects.list(f"{BRONZE_PREFIX}/")


# --- bronze -> silver ------------------------------------------------------------------------


def silver_sources(lakehouse: Lakehouse, dataset: str) -> list[str]:
    """The sources with a silver parser for ``dataset`` (its bronze inputs), sorted."""
    return sorted({parser.source for parser in dataset_spec(dataset, lakehouse.assets).parsers})


def run_silver_prices(
    lakehouse: Lakehouse, after_batch: Callable[[int], None] | None = None
) -> SilverRunReport:
    """Silver prices only (kept for callers that need just the price bars)."""
    return run_silver(lakehouse, "prices", after_batch)


def check_silver_table(lakehouse: Lakehouse, dataset: str) -> list[ExpectationResult]:
    """The table-level expectations (key uniqueness, freshness) of ``silver/<dataset>``, run
    and stored now; none while the table does not exist."""
    uri = lakehouse.paths.silver(dataset)
    if not lakehouse.delta.exists(uri):
        return []
    return quality_gate(lakehouse).check_table(dataset, uri, run_id=uuid.uuid4().hex)


def quality_summary(lakehouse: Lakehouse, dataset: str | None = None) -> str:
    """``rwa quality``: the latest data-quality results of each dataset (or of ``dataset``)."""
    return format_results(latest_results(lakehouse.delta, lakehouse.paths, dataset))


# --- bronze objects quarantined whole (``rwa quarantine``, docs/quality.md) -----------------


def waiting_objects(lakehouse: Lakehouse, dataset: str | None = None) -> pa.Table:
    """The bronze objects quarantined whole and not replayed yet (of ``dataset``, or all)."""
    rows = quarantined_objects(lakehouse).rows(dataset)
    return rows.filter(pc.field("status") != REPLAYED)


def describe_objects(rows: pa.Table) -> str:
    """Rows of the quarantined-objects list as ``rwa quarantine list`` prints them."""
    return format_objects(rows)


def bronze_object_dataset(lakehouse: Lakehouse, bronze_file: str) -> str:
    """The silver dataset of a bronze object named by its lake-relative key (as
    ``rwa quarantine list`` shows it); NotFoundError when no such object exists."""
    dataset = object_dataset(bronze_file)
    if dataset is None or dataset not in SILVER_DATASETS:
        raise NotFoundError(
            f"{bronze_file!r} is not a bronze object of a silver dataset: expected "
            f"bronze/source=<s>/dataset=<{'|'.join(SILVER_DATASETS)}>/date=<day>/<name>"
        )
    if not lakehouse.objects.exists(bronze_file):
        raise NotFoundError(f"no bronze object {bronze_file} in {lakehouse.settings.lake.root}")
    return dataset


def set_aside_object(lakehouse: Lakehouse, bronze_file: str, note: str) -> ObjectStatus:
    """Set a bronze object aside: silver quarantines it whole without judging it and it no
    longer stops the job. Idempotent; returns the object's status afterwards."""
    dataset = bronze_object_dataset(lakehouse, bronze_file)
    return quarantined_objects(lakehouse).set_aside(dataset, bronze_file, note)


@dataclass
class ReplayReport:
    bronze_file: str
    #: The object's status before the replay; a replayed object is not replayed again.
    status_before: str
    silver: SilverRunReport | None = None


def replay_object(lakehouse: Lakehouse, bronze_file: str) -> ReplayReport:
    """Take a quarantined (or set-aside) object into silver now, exactly once: its records
    are judged as a batch of their own and merged like a backfill (latest fetch wins).
    Raises DataQualityError, merging nothing, while the object is still broken."""
    dataset = bronze_object_dataset(lakehouse, bronze_file)
    status = quarantined_objects(lakehouse).statuses(dataset).get(bronze_file)
    if status is None:
        raise NotFoundError(
            f"{bronze_file} is not in quarantine (`rwa quarantine list`): a new object is taken "
            f"in by `rwa silver`"
        )
    report = ReplayReport(bronze_file, status)
    if status in (QUARANTINED, SET_ASIDE):
        spec = dataset_spec(dataset, lakehouse.assets)
        stream = silver_stream(lakehouse, spec, f"replay_{spec.checkpoint_name}")
        report.silver = stream.replay(bronze_file)
    return report


# --- silver -> gold --------------------------------------------------------------------------


def gold_uris(lakehouse: Lakehouse) -> dict[str, str]:
    """URI of each gold OHLCV table by resolution (``"1m"``, ``"5m"``, ``"1h"``, ``"1d"``)."""
    return {res: lakehouse.paths.gold(table.name) for res, table in OHLCV_TABLES.items()}


def gold_table_uris(lakehouse: Lakehouse) -> dict[str, str]:
    """URI of every gold table by name (``ohlcv_1h``, ``features_daily``, ...)."""
    return {table.name: lakehouse.paths.gold(table.name) for table in GOLD_TABLES}


@trimmed_after
def run_gold(lakehouse: Lakehouse, dates: tuple[dt.date, dt.date] | None = None) -> GoldRunReport:
    """Build every gold table from silver: all days (``dates`` None), or only the inclusive
    ``(first, last)`` days, replacing exactly those days (a backfill equals a full run)."""
    build = GoldBuild(
        lakehouse.spark,
        lakehouse.delta,
        lakehouse.paths,
        lakehouse.assets,
        codegen=lakehouse.settings.spark.gold_codegen,
    )
    return build.run(dates)


@dataclass
class BackfillReport:
    """What :func:`backfill` reprocessed: bronze fetch days, silver per dataset, and the gold
    days rebuilt (None, with ``gold`` None, when no valid record was found)."""

    days: DayRange
    silver: dict[str, SilverRunReport]
    gold_days: DayRange | None = None
    gold: GoldRunReport | None = None


@trimmed_after
def backfill(
    lakehouse: Lakehouse,
    first: dt.date,
    last: dt.date,
    datasets: Sequence[str] = SILVER_DATASETS,
) -> BackfillReport:
    """Reprocess the bronze objects fetched from ``first`` to ``last`` (inclusive) into silver,
    then rebuild the gold days of :func:`gold_days_after` (nothing when no silver row came from
    those fetches). The result equals what the streaming path builds from the same bronze; a
    rerun changes nothing."""
    days = DayRange(first, last)
    report = BackfillReport(days, run_silver_all(lakehouse, datasets, backfill=days))
    report.gold_days = gold_days_after(lakehouse, days, datasets)
    if report.gold_days is not None:
        report.gold = run_gold(lakehouse, (report.gold_days.first, report.gold_days.last))
    return report


def gold_days_after(
    lakehouse: Lakehouse, fetched: DayRange, datasets: Sequence[str] = SILVER_DATASETS
) -> DayRange | None:
    """The gold days to rebuild once silver holds the bronze fetched on ``fetched``: from the
    first day those silver rows are about up to the latest day of ``silver/prices`` (later days'
    trailing windows and as-of values can depend on them); None when silver holds none."""
    lake, paths = lakehouse.delta, lakehouse.paths
    touched: DayRange | None = None
    for dataset in datasets:
        spec = dataset_spec(dataset, lakehouse.assets)
        about = days_about(lake, paths.silver(dataset), spec, fetched)
        if about is not None:
            touched = about.hull(touched)
    if touched is None:
        return None
    latest = lake.max_value(paths.silver("prices"), "date")
    return DayRange(touched.first, max(touched.last, latest or touched.last))


# --- gold -> models --------------------------------------------------------------------------


@trimmed_after
def run_risk(lakehouse: Lakehouse, as_of: dt.date | None = None) -> RiskRunReport:
    """Score every reference asset as of ``as_of`` (default: the latest daily bar) into
    ``gold/risk_scores`` (methodology: docs/risk.md)."""
    return score_lake(lakehouse.delta, lakehouse.paths, lakehouse.assets, as_of)


def model_registry(lakehouse: Lakehouse, prefix: str = "models") -> ModelRegistry:
    """The fitted models and their metrics, kept under ``<prefix>/`` in the lake."""
    return ModelRegistry(lakehouse.objects, prefix)


@trimmed_after
def run_forecast(lakehouse: Lakehouse, *, reselect: bool = True) -> ForecastRunReport:
    """7- and 30-day forecasts with 80%/95% intervals per asset into ``gold/predictions``; each
    fitted model saved with its evaluation metrics under ``models/`` in the lake. Without
    ``reselect`` each asset keeps its registered model order (see ``forecast_lake``)."""
    return forecast_lake(
        lakehouse.delta,
        lakehouse.paths,
        lakehouse.assets,
        model_registry(lakehouse),
        reselect=reselect,
        model=lakehouse.settings.models.forecast_model,
        spark=lakehouse.spark if _forecast_on_spark(lakehouse.settings.models) else None,
        processes=_forecast_processes(lakehouse.settings.models),
    )


def _forecast_on_spark(models: ModelSettings) -> bool:
    """Spark fits ARIMA only: the LSTM and the ensemble run in the driver (no JVM to start)."""
    return models.forecast_on_spark and models.forecast_model == "arima"


def _forecast_processes(models: ModelSettings) -> int:
    """``RWA_FORECAST_PROCESSES``, 0 read as the cores this process may run on."""
    if models.forecast_processes:
        return models.forecast_processes
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def degraded_forecasts(lakehouse: Lakehouse) -> list[LiveAccuracy]:
    """The assets whose live 7-day forecast accuracy has degraded (``models/forecast/monitor``)."""
    return [a for a in live_accuracy(lakehouse.delta, lakehouse.paths) if a.degraded]


def run_backtest(
    lakehouse: Lakehouse, days: int = DEFAULT_SIGNAL_DAYS, asset_ids: Sequence[str] | None = None
) -> list[AssetBacktest]:
    """Backtest, over the last ``days`` days of ``gold/ohlcv_1d``, buy-and-hold beside the
    forecast signal (1-day ARIMA of the asset's registered order, refit daily on the past
    only), the news sentiment signal (``gold/sentiment_daily``) and the risk signal (the VaR
    model's volatility forecast against its median); rules in ``models/forecast/backtest``."""
    lake, paths = lakehouse.delta, lakehouse.paths
    return backtest_lake(lake, paths, model_registry(lakehouse), days, asset_ids).backtests


@trimmed_after
def run_signals(lakehouse: Lakehouse, days: int = DEFAULT_SIGNAL_DAYS) -> SignalRunReport:
    """The :func:`run_backtest` signals of every asset as of its latest daily bar, with their
    backtests, into ``gold/signals`` (served by ``/signals``; nothing trades)."""
    lake, paths = lakehouse.delta, lakehouse.paths
    return signals_lake(lake, paths, model_registry(lakehouse), days)


@trimmed_after
def run_sentiment(lakehouse: Lakehouse) -> SentimentRunReport:
    """Score the news of every asset-day gold marked as unscored (FinBERT from
    ``RWA_SENTIMENT_MODEL``, or the finance lexicon when it cannot be loaded)."""
    scorer = load_scorer(lakehouse.settings.models)
    return score_sentiment(lakehouse.delta, lakehouse.paths, scorer)


def days_not_scored_by(lakehouse: Lakehouse, model_version: str) -> int:
    """Asset-days of ``gold/sentiment_daily`` not scored by ``model_version``."""
    uri = lakehouse.paths.gold(SENTIMENT_DAILY.name)
    versions = lakehouse.delta.to_arrow(uri)["model_version"].to_pylist()
    return sum(1 for version in versions if version != model_version)


# --- gold -> serving store -------------------------------------------------------------------


@dataclass
class ServingLoadReport:
    assets: int = 0
    #: OHLCV bars loaded per resolution ("1h": n); every source is in ``gold.rows``.
    bars: dict[str, int] = field(default_factory=dict)
    table_counts: dict[str, int] = field(default_factory=dict)
    gold: GoldLoadReport = field(default_factory=GoldLoadReport)


@trimmed_after
def load_serving(lakehouse: Lakehouse, now: dt.datetime | None = None) -> ServingLoadReport:
    """Migrate the serving store, upsert the reference assets, then every built gold table and
    silver/economic (:func:`~pipelines.serving.load.load_gold`: skips tables not built yet,
    refreshes the weekly bars, applies intraday retention as of ``now``)."""
    report = ServingLoadReport()
    with open_store(lakehouse.settings.serving) as store:
        store.migrate()
        report.assets = store.upsert_assets(list(lakehouse.assets))
        report.gold = load_gold(store, lakehouse.delta, lakehouse.paths, now)
        report.bars = {
            label.removeprefix("gold/ohlcv_"): rows
            for label, rows in report.gold.rows.items()
            if label.startswith("gold/ohlcv_")
        }
        report.table_counts = store.table_counts()
    return report


def migrate_serving(lakehouse: Lakehouse) -> dict[str, int]:
    """Create or upgrade the serving store's schema (``rwa db migrate``); rows per table."""
    with open_store(lakehouse.settings.serving) as store:
        store.migrate()
        return store.table_counts()


def check_serving_writable(lakehouse: Lakehouse) -> None:
    """Raise StoreUnavailableError now if a load into the serving store could not succeed for
    a reason known in advance: for commands that do long work before they load."""
    check_store_writable(lakehouse.settings.serving)


# --- the lake as a whole ---------------------------------------------------------------------


@trimmed_after
def maintain(
    lakehouse: Lakehouse, *, retention_hours: int | None = None, dry_run: bool = False
) -> MaintenanceReport:
    """Compact, checkpoint and vacuum every silver and gold Delta table (``rwa maintain``)."""
    settings = lakehouse.settings
    return maintain_lake(
        settings.lake, settings.maintenance, retention_hours=retention_hours, dry_run=dry_run
    )


@dataclass(frozen=True)
class TableSummary:
    """Where a Delta table is, its version (None while it does not exist) and its rows."""

    uri: str
    version: int | None
    rows: int


def table_summary(lakehouse: Lakehouse, uri: str) -> TableSummary:
    if not lakehouse.delta.exists(uri):
        return TableSummary(uri, None, 0)
    version = lakehouse.delta.table(uri).version()
    return TableSummary(uri, version, lakehouse.delta.count_rows(uri))


def layer_counts(lakehouse: Lakehouse) -> dict[str, dict[str, int]]:
    """What each layer holds now (whole tables, not just this run's share)."""
    lake, paths = lakehouse.delta, lakehouse.paths
    inventory = bronze_inventory(lakehouse.objects)
    with open_store(lakehouse.settings.serving, read_only=True) as store:
        serving = store.table_counts()
    return {
        "bronze": {f"{dataset} envelopes": records for dataset, (_, records) in inventory.items()}
        | {"objects": sum(objects for objects, _ in inventory.values())},
        "silver": {
            "prices": lake.count_rows(paths.silver("prices")),
            "quarantine": lake.count_rows(paths.quarantine),
            **{name: lake.count_rows(paths.silver(name)) for name in ("onchain", "economic")},
            "news": lake.count_rows(paths.silver("news")),
            "transfers": lake.count_rows(paths.silver("transfers")),
        },
        "gold": {table: lake.count_rows(uri) for table, uri in gold_table_uris(lakehouse).items()},
        "serving": serving,
    }
