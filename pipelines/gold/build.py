"""The gold run: every gold table from silver, for all days or a range of days, in one Spark
session.

Order matters: the OHLCV tables are written first, then the daily tables read ``gold/ohlcv_1d``
back whole (features look back to each asset's first bar, the macro view spans each asset's
first to last bar), so a range run sees exactly the daily bars a full run would. Everything else
a range run reads is limited to its days, except ``silver/economic``, read whole (an as-of value
may come from any earlier observation; the table is small).

``silver/prices`` is required. The other silver tables are optional: while one does not exist,
its gold table is skipped and the report says why.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession

from pipelines.contracts.gold import (
    FEATURES_DAILY,
    GOLD_TABLES,
    MACRO_ASOF,
    MARKET_DAILY,
    OHLCV_TABLES,
    ONCHAIN_DAILY,
    SENTIMENT_DAILY,
    GoldTable,
)
from pipelines.contracts.measures import ONCHAIN_METRICS
from pipelines.contracts.reference import Asset
from pipelines.core.errors import DataContractError
from pipelines.gold.features import daily_features
from pipelines.gold.flows import token_flows
from pipelines.gold.macro import asset_countries, macro_asof, widen_over_gaps
from pipelines.gold.market import asset_classes, market_daily
from pipelines.gold.ohlcv import can_build, rollup_ohlcv
from pipelines.gold.onchain import onchain_daily
from pipelines.gold.sentiment import merge_sentiment_days, news_per_asset_day
from pipelines.gold.tables import replace_days
from pipelines.lake.days import DayRange, restrict
from pipelines.lake.delta import SCAN_BATCH_ROWS, DeltaLake
from pipelines.lake.paths import LakePaths

_LINEAGE = ("source", "fetched_at")

#: Silver table -> the columns gold reads from it (docs/data-model.md).
SILVER_INPUTS: dict[str, tuple[str, ...]] = {
    "prices": ("date", "asset_id", "resolution", "ts", "open", "high", "low", "close", "volume"),
    "onchain": ("date", "asset_id", *_LINEAGE, *ONCHAIN_METRICS),
    "economic": (
        "series_id",
        "region",
        "observation_date",
        "value",
        "frequency",
        "units",
        "realtime_start",
        "source",
    ),
    "news": ("date", "article_id", "outlet", "asset_ids"),
    "transfers": (
        "date",
        "chain",
        "block_number",
        "log_index",
        "contract_address",
        "asset_id",
        "from_address",
        "to_address",
        "amount_raw",
        "decimals",
        "removed",
        "range_to",
        "source",
        "ingest_id",
        "fetched_at",
    ),
}

LOG = logging.getLogger(__name__)


@dataclass
class GoldRunReport:
    """Rows written per gold table, tables skipped (-> why), the days run (None: all), and
    the run's id, stamped on every commit it made (:mod:`pipelines.contracts.lineage`)."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    days: DayRange | None = None
    seconds: float = 0.0


@contextlib.contextmanager
def whole_stage_codegen(spark: SparkSession, enabled: bool) -> Iterator[None]:
    """Spark's whole-stage code generation on or off until the block ends (then as before, so
    the other steps sharing the session keep their setting). Off, each gold table's plan of
    windows and joins runs interpreted instead of compiled: that only paid on a loaded machine
    with small inputs (``RWA_GOLD_CODEGEN``)."""
    key = "spark.sql.codegen.wholeStage"
    before = spark.conf.get(key)
    spark.conf.set(key, str(enabled).lower())
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


class GoldBuild:
    """Builds the gold tables under ``paths`` from the silver tables there."""

    def __init__(
        self,
        spark: SparkSession,
        lake: DeltaLake,
        paths: LakePaths,
        assets: Sequence[Asset],
        *,
        codegen: bool = True,
    ) -> None:
        self.spark = spark
        self.lake = lake
        self.paths = paths
        self.assets = tuple(assets)
        #: Whole-stage code generation while the build runs (``RWA_GOLD_CODEGEN``).
        self.codegen = codegen

    def run(self, dates: tuple[dt.date, dt.date] | None = None) -> GoldRunReport:
        """Recompute every day (``dates`` None) or the inclusive ``(first, last)`` days, and
        replace exactly those days in each gold table."""
        with whole_stage_codegen(self.spark, self.codegen):
            return self._run(dates)

    def _run(self, dates: tuple[dt.date, dt.date] | None) -> GoldRunReport:
        """Two lanes, this thread and one beside it, so that while one table's Spark job runs
        on the executors the other's plan is analysed and compiled, its rows written by
        delta-rs, classes loaded: a table's job alone kept the local master's two cores busy
        a fraction of the time. Each table is computed as alone, so the tables do not depend
        on the lanes; those that read another's output wait for it (features and the macro view
        read ``gold/ohlcv_1d``, the market view onchain and macro)."""
        started = time.perf_counter()
        days = None if dates is None else DayRange(*dates)
        report = GoldRunReport(days=days)
        prices = restrict(self._silver("prices"), days).persist()
        resolutions = self._silver_resolutions()
        side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gold-lane")
        side_lane: list[Future[None]] = []
        try:
            side_lane.append(side.submit(self._run_intraday, report, prices, resolutions, days))
            self._write_ohlcv(report, "1d", prices, resolutions, days)
            daily_bars = self.lake.to_spark(self.spark, self.uri(OHLCV_TABLES["1d"]))
            side_lane.append(side.submit(self._run_features, report, daily_bars, prices, days))
            side_lane.append(side.submit(self._run_sentiment, report, days))
            self._run_onchain(report, daily_bars, days)
            self._run_macro(report, daily_bars, days)
            self._run_market(report, daily_bars, days)
            wait(side_lane)
        finally:
            # A failure in this lane drops the side lane's tables not started yet.
            side.shutdown(wait=True, cancel_futures=True)
            prices.unpersist()
            side_errors = _failures(side_lane)
        if side_errors:
            raise side_errors[0]
        report.rows = {t.name: report.rows[t.name] for t in GOLD_TABLES if t.name in report.rows}
        report.seconds = time.perf_counter() - started
        return report

    def _run_intraday(
        self, report: GoldRunReport, prices: DataFrame, resolutions: set[str], days: DayRange | None
    ) -> None:
        for resolution in OHLCV_TABLES:
            if resolution != "1d":
                self._write_ohlcv(report, resolution, prices, resolutions, days)

    def _write_ohlcv(
        self,
        report: GoldRunReport,
        resolution: str,
        prices: DataFrame,
        resolutions: set[str],
        days: DayRange | None,
    ) -> None:
        bars = rollup_ohlcv(prices, resolution)
        if not can_build(resolutions, resolution):
            # e.g. no minute bars for 1m/5m: the same empty table, without running the
            # window and shuffles over every silver bar that would find nothing
            bars = self.spark.createDataFrame([], bars.schema)
        self._write(report, OHLCV_TABLES[resolution], bars, days)

    def _run_features(
        self, report: GoldRunReport, daily_bars: DataFrame, prices: DataFrame, days: DayRange | None
    ) -> None:
        features = restrict(daily_features(daily_bars, prices), days)
        self._write(report, FEATURES_DAILY, features, days)

    def uri(self, table: GoldTable) -> str:
        return self.paths.gold(table.name)

    def _run_onchain(
        self, report: GoldRunReport, daily_bars: DataFrame, days: DayRange | None
    ) -> None:
        has_feed = self.lake.exists(self.paths.silver("onchain"))
        has_logs = self.lake.exists(self.paths.silver("transfers"))
        if not has_feed and not has_logs:
            self._skip_without(report, ONCHAIN_DAILY, "onchain")
            return
        onchain = restrict(self._silver("onchain"), days) if has_feed else None
        # Holders carry balances over every earlier day: the flows read all of silver.
        flows = restrict(token_flows(self._silver("transfers")), days) if has_logs else None
        rows = onchain_daily(onchain, restrict(daily_bars, days), flows)
        self._write(report, ONCHAIN_DAILY, rows, days)

    def _run_macro(
        self, report: GoldRunReport, daily_bars: DataFrame, days: DayRange | None
    ) -> None:
        if self._skip_without(report, MACRO_ASOF, "economic"):
            return
        countries = asset_countries(self.spark, self.assets)
        if days is not None:
            days = widen_over_gaps(daily_bars, days)
        rows = macro_asof(self._silver("economic"), daily_bars, countries, days)
        self._write(report, MACRO_ASOF, rows, days)

    def _run_sentiment(self, report: GoldRunReport, days: DayRange | None) -> None:
        if self._skip_without(report, SENTIMENT_DAILY, "news"):
            return
        rows = news_per_asset_day(restrict(self._silver("news"), days))
        uri = self.uri(SENTIMENT_DAILY)
        report.rows[SENTIMENT_DAILY.name] = merge_sentiment_days(self.lake, rows, uri, days)

    def _run_market(
        self, report: GoldRunReport, daily_bars: DataFrame, days: DayRange | None
    ) -> None:
        """From the gold tables this run wrote, read whole: stocks carry from any earlier day
        and the yield looks a week back, so a range run computes its days as a full run."""
        onchain_uri, macro_uri = self.uri(ONCHAIN_DAILY), self.uri(MACRO_ASOF)
        if not self.lake.exists(onchain_uri):
            report.skipped[MARKET_DAILY.name] = f"no gold/{ONCHAIN_DAILY.name} table"
            return
        onchain = self.lake.to_spark(self.spark, onchain_uri)
        macro = self.lake.to_spark(self.spark, macro_uri) if self.lake.exists(macro_uri) else None
        classes = asset_classes(self.spark, self.assets)
        rows = restrict(market_daily(daily_bars, onchain, macro, classes), days)
        self._write(report, MARKET_DAILY, rows, days)

    def _write(
        self, report: GoldRunReport, table: GoldTable, df: DataFrame, days: DayRange | None
    ) -> None:
        report.rows[table.name] = replace_days(
            self.lake, df, self.uri(table), table, days, report.run_id
        )

    def _skip_without(self, report: GoldRunReport, table: GoldTable, silver: str) -> bool:
        """Record ``table`` as skipped when its silver input does not exist (yet)."""
        uri = self.paths.silver(silver)
        if self.lake.exists(uri):
            return False
        report.skipped[table.name] = f"no silver/{silver} table at {uri}"
        return True

    def _silver_resolutions(self) -> set[str]:
        """The resolutions in ``silver/prices``, read by Arrow from that one column batch by
        batch (a few distinct values): all days', a superset of any range's."""
        batches = self.lake.batches(
            self.paths.silver("prices"), batch_rows=SCAN_BATCH_ROWS, columns=["resolution"]
        )
        return {
            value for batch in batches for value in pc.unique(batch.column(0)).to_pylist() if value
        }

    def _silver(self, name: str) -> DataFrame:
        """A silver table, checked for the columns gold reads (NotFoundError if absent)."""
        uri = self.paths.silver(name)
        df = self.lake.to_spark(self.spark, uri)
        missing = [column for column in SILVER_INPUTS[name] if column not in df.columns]
        if missing:
            raise DataContractError(
                f"silver/{name} at {uri} lacks column(s) {missing} that gold reads "
                "(see docs/data-model.md)"
            )
        return df


def _failures(tasks: list[Future[None]]) -> list[BaseException]:
    """The errors of the finished ``tasks``, each logged: only the first is raised (and none
    when this lane raises its own), so none goes unseen."""
    errors = [e for t in tasks if not t.cancelled() and (e := t.exception()) is not None]
    for error in errors:
        LOG.error("gold: a table of the side lane failed", exc_info=error)
    return errors
