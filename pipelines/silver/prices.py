"""Silver prices: bronze price envelopes -> the keyed ``silver/prices`` Delta table.

A Spark Structured Streaming job over the bronze folder (``availableNow`` for scheduled runs):
parse the envelope, explode the CoinAPI-shaped OHLCV payload into bars, normalise (UTC instants,
doubles, asset ids from exchange symbols), validate, deduplicate (latest fetch wins) and MERGE
into ``silver/prices`` keyed by ``(asset_id, resolution, ts)``. Records that fail go to
``silver/quarantine`` with the reason; nothing is dropped silently.

Exactly-once: each micro-batch commits to Delta with the application transaction
``(app_id, batch_id)``. After a crash between the Delta commit and Spark's checkpoint, Spark
replays the batch and the guard skips it; the MERGE itself is also idempotent (equal rows are
not updated), so a rerun over the same bronze leaves silver unchanged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType, StructField, StructType

from pipelines.bronze.writer import dataset_glob
from pipelines.lake.delta import BatchTxn, DeltaLake, WriteOutcome
from pipelines.silver.quarantine import QuarantineSink

DATASET = "prices"
APP_ID = "silver.prices"
KEYS = ("date", "asset_id", "resolution", "ts")  # `date` first: lets the MERGE prune partitions
PARTITION_BY = ("date",)
#: Latest fetch wins; ingest_id breaks ties so the outcome never depends on batch order.
NEWER = "s.fetched_at > t.fetched_at OR (s.fetched_at = t.fetched_at AND s.ingest_id > t.ingest_id)"

#: CoinAPI ``period_id`` -> our resolution names.
PERIODS: Mapping[str, str] = {
    "1MIN": "1m",
    "5MIN": "5m",
    "15MIN": "15m",
    "1HRS": "1h",
    "1DAY": "1d",
}

_BAR_FIELDS = (
    "time_period_start",
    "time_period_end",
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "volume_traded",
    "trades_count",
)
#: A CoinAPI OHLCV payload. Bar fields are read as text (JSON numbers arrive as their literal,
#: numeric strings as-is) and cast with try_cast, so a bad value refuses one bar, never a batch.
COINAPI_BARS = ArrayType(StructType([StructField(name, StringType()) for name in _BAR_FIELDS]))
_ENVELOPE_TEXT_FIELDS = (
    "source",
    "dataset",
    "endpoint",
    "params",  # an object, kept as its raw JSON text
    "fetched_at",
    "ingest_id",
    "schema_version",
)
#: The bronze line is parsed once, payload included. A line whose payload has another shape
#: keeps its other fields and lands in ``_corrupt_record`` (Spark's PERMISSIVE partial results).
PRICE_ENVELOPE_SCHEMA = StructType(
    [
        *(StructField(name, StringType()) for name in _ENVELOPE_TEXT_FIELDS),
        StructField("payload", COINAPI_BARS),
        StructField("_corrupt_record", StringType()),
    ]
)
SUPPORTED_SCHEMA_VERSIONS = ("1",)


@dataclass
class SilverRunReport:
    batches: int = 0
    replayed_batches: int = 0
    bars_in: int = 0
    duplicates_removed: int = 0
    inserted: int = 0
    updated: int = 0
    quarantined: int = 0
    seconds: float = 0.0
    batch_ids: list[int] = field(default_factory=list)


class SilverPricesJob:
    """Runs the bronze -> silver prices stream until bronze is drained (``availableNow``)."""

    def __init__(
        self,
        spark: SparkSession,
        lake: DeltaLake,
        *,
        bronze_root: Path,
        silver_uri: str,
        quarantine: QuarantineSink,
        checkpoint_dir: Path,
        symbols: Mapping[str, str],
        max_files_per_trigger: int = 64,
        after_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.spark = spark
        self.lake = lake
        self.bronze_root = bronze_root
        self.silver_uri = silver_uri
        self.quarantine = quarantine
        self.checkpoint_dir = checkpoint_dir
        self.symbols = dict(symbols)
        self.max_files_per_trigger = max_files_per_trigger
        # Test hook: runs after a batch's commits and before Spark records it as done.
        self.after_batch = after_batch
        self.report = SilverRunReport()

    def run(self) -> SilverRunReport:
        started = time.perf_counter()
        self.report = SilverRunReport()
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        query = (
            self._bronze_stream()
            .writeStream.foreachBatch(self._process_batch)
            .option("checkpointLocation", str(self.checkpoint_dir))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _bronze_stream(self) -> DataFrame:
        source = str(self.bronze_root.resolve() / dataset_glob(DATASET))
        return (
            self.spark.readStream.schema(PRICE_ENVELOPE_SCHEMA)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", "_corrupt_record")
            .option("maxFilesPerTrigger", self.max_files_per_trigger)
            .json(source)
            .withColumn("bronze_file", F.regexp_extract("_metadata.file_path", r"(bronze/.*)$", 1))
        )

    def _process_batch(self, batch: DataFrame, batch_id: int) -> None:
        # Persisted: bronze is read and parsed once, then feeds silver and quarantine.
        bars = parse_price_bars(batch, self.symbols).persist()
        try:
            bars_in = bars.where(F.col("reason").isNull()).count()
            outcome = self.lake.merge(
                latest_per_key(bars.where(F.col("reason").isNull()).select(*SILVER_COLUMNS)),
                self.silver_uri,
                keys=KEYS,
                update_when=NEWER,
                partition_by=PARTITION_BY,
                txn=BatchTxn(APP_ID, batch_id),
            )
            quarantined = self.quarantine.add(quarantine_rows(bars), DATASET, batch_id)
        finally:
            bars.unpersist()
        duplicates = 0 if outcome.skipped_replay else bars_in - outcome.rows_in
        self._record(batch_id, bars_in, duplicates, outcome, quarantined)
        if self.after_batch is not None:
            self.after_batch(batch_id)

    def _record(
        self, batch_id: int, bars_in: int, duplicates: int, outcome: WriteOutcome, quarantined: int
    ) -> None:
        self.report.batches += 1
        self.report.batch_ids.append(batch_id)
        self.report.replayed_batches += int(outcome.skipped_replay)
        self.report.bars_in += bars_in
        self.report.duplicates_removed += duplicates
        self.report.inserted += outcome.inserted
        self.report.updated += outcome.updated
        self.report.quarantined += quarantined


SILVER_COLUMNS = (
    "date",
    "asset_id",
    "resolution",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
    "source",
    "symbol_id",
    "ingest_id",
    "fetched_at",
    "bronze_file",
)


def check_lines(envelopes: DataFrame) -> DataFrame:
    """Each bronze line with ``line_problem``: why the whole line is refused (null when it is
    usable)."""
    unparsed = F.col("_corrupt_record").isNotNull()
    nothing_parsed = F.coalesce(*_ENVELOPE_TEXT_FIELDS).isNull()
    problem = (
        F.when(unparsed & nothing_parsed, F.lit("malformed JSON line"))
        # Every other field is text, so only the payload can fail to fit the schema.
        .when(unparsed, F.lit("payload is not a CoinAPI OHLCV array"))
        .otherwise(_envelope_problem())
    )
    return envelopes.withColumn("line_problem", problem)


def parse_price_bars(envelopes: DataFrame, symbols: Mapping[str, str]) -> DataFrame:
    """One row per bar of every usable line and one per refused line, typed and normalised,
    with ``reason`` set to why the row is refused (null when it is a valid bar)."""
    lines = check_lines(envelopes)
    refused_line = F.col("line_problem").isNotNull()
    exploded = lines.select(
        "source",
        "ingest_id",
        "bronze_file",
        "line_problem",
        F.try_to_timestamp("fetched_at").alias("fetched_at"),
        F.get_json_object("params", "$.symbol_id").alias("symbol_id"),
        F.get_json_object("params", "$.period_id").alias("period_id"),
        F.when(refused_line, F.coalesce("_corrupt_record", _envelope_json())).alias("line_raw"),
        # explode_outer keeps a refused line (and a line without bars) as one row with no bar
        F.explode_outer(F.when(~refused_line, F.col("payload"))).alias("bar"),
    )
    typed = exploded.select(
        "source",
        "ingest_id",
        "bronze_file",
        "fetched_at",
        "symbol_id",
        "line_problem",
        "line_raw",
        "bar",
        _asset_id_from_symbol(F.col("symbol_id"), symbols).alias("asset_id"),
        _lookup(PERIODS, F.col("period_id")).alias("resolution"),
        F.col("bar.time_period_start").try_cast("timestamp").alias("ts"),
        *(F.col(f"bar.price_{p}").try_cast("double").alias(p) for p in _PRICES),
        F.col("bar.volume_traded").try_cast("double").alias("volume"),
        F.col("bar.trades_count").try_cast("long").alias("trades"),
    )
    return typed.withColumn("reason", F.coalesce(F.col("line_problem"), _bar_problem())).withColumn(
        "date", F.to_date("ts")
    )


def _envelope_json() -> Column:
    return F.to_json(F.struct(*_ENVELOPE_TEXT_FIELDS, "payload"))


_PRICES = ("open", "high", "low", "close")


def _envelope_problem() -> Column:
    """Why a well-formed JSON line is not a usable price envelope (null when it is)."""
    checks = [
        (F.col(name).isNull(), f"envelope field '{name}' is missing")
        for name in ("source", "ingest_id", "fetched_at", "payload", "params")
    ]
    checks += [
        (
            F.try_to_timestamp("fetched_at").isNull(),
            "envelope field 'fetched_at' is not a timestamp",
        ),
        (
            ~F.coalesce(F.col("schema_version"), F.lit("")).isin(*SUPPORTED_SCHEMA_VERSIONS),
            "unsupported envelope schema_version",
        ),
    ]
    return _first_problem(checks)


def _bar_problem() -> Column:
    price_missing = F.greatest(*(F.col(p).isNull().cast("int") for p in _PRICES)) == 1
    checks = [
        (F.col("bar").isNull(), "payload holds no bars"),
        (F.col("asset_id").isNull(), "unknown symbol_id"),
        (F.col("resolution").isNull(), "unsupported period_id"),
        (F.col("ts").isNull(), "missing or unparseable time_period_start"),
        (price_missing, "missing or non-numeric price"),
        (F.least(*(F.col(p) for p in _PRICES)) <= 0, "non-positive price"),
        (F.col("high") < F.col("low"), "high below low"),
        (
            (F.col("high") < F.greatest("open", "close"))
            | (F.col("low") > F.least("open", "close")),
            "open/close outside the high-low range",
        ),
        (F.coalesce(F.col("volume"), F.lit(0.0)) < 0, "negative volume"),
    ]
    return _first_problem(checks)


def _first_problem(checks: list[tuple[Column, str]]) -> Column:
    expr: Column | None = None
    for condition, reason in reversed(checks):
        expr = F.when(condition, F.lit(reason)).otherwise(
            expr if expr is not None else F.lit(None).cast("string")
        )
    assert expr is not None
    return expr


def quarantine_rows(bars: DataFrame) -> DataFrame:
    """Refused lines and bars (see :func:`parse_price_bars`) in the shape
    :class:`QuarantineSink` stores; the raw text is rebuilt only for these few rows."""
    return bars.where(F.col("reason").isNotNull()).select(
        "source",
        "ingest_id",
        "bronze_file",
        "fetched_at",
        "reason",
        F.coalesce("line_raw", F.to_json("bar")).alias("raw"),
    )


def latest_per_key(bars: DataFrame) -> DataFrame:
    """One bar per key: the latest fetch (ties broken by ingest_id), as the MERGE expects."""
    order = Window.partitionBy(*KEYS).orderBy(F.desc("fetched_at"), F.desc("ingest_id"))
    return bars.withColumn("_rank", F.row_number().over(order)).where("_rank = 1").drop("_rank")


def ticker_key(symbol: str) -> str:
    """Exchanges differ in case and punctuation of tickers; compare upper-case alphanumerics."""
    return re.sub(r"[^A-Z0-9]", "", symbol.upper())


def _asset_id_from_symbol(symbol_id: Column, symbols: Mapping[str, str]) -> Column:
    """CoinAPI symbol ids look like ``EXCHANGE_SPOT_BASE_QUOTE``; the base names the asset.
    ``symbols`` maps reference tickers to asset ids."""
    base = F.regexp_extract(symbol_id, r"^[^_]+_SPOT_(.+)_[^_]+$", 1)
    key = F.regexp_replace(F.upper(base), r"[^A-Z0-9]", "")
    return _lookup({ticker_key(symbol): asset for symbol, asset in symbols.items()}, key)


def _lookup(mapping: Mapping[str, str], key: Column) -> Column:
    if not mapping:
        return F.lit(None).cast(StringType())
    literal = F.create_map(*(F.lit(part) for item in sorted(mapping.items()) for part in item))
    return F.try_element_at(literal, key)
