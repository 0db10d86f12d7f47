"""Gold OHLCV: silver bars rolled up to the served resolutions, in Spark.

For each asset the finest silver resolution not coarser than the target is used (1m bars make
better hourly bars than 1h bars from another fetch). A bucket's open is the first bar's open,
close the last bar's close, high/low the extremes, volume and trades the sums. Buckets are UTC.
Each run recomputes the tables from silver and replaces them (a new Delta version; the previous
ones stay readable by time travel), so reruns are idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from pipelines.lake.delta import DeltaLake

#: Served resolution -> (Spark date_trunc unit, length in seconds).
GOLD_RESOLUTIONS: Mapping[str, tuple[str, int]] = {"1h": ("hour", 3_600), "1d": ("day", 86_400)}
#: Silver resolutions and their length in seconds.
SILVER_SECONDS: Mapping[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3_600, "1d": 86_400}

GOLD_COLUMNS = (
    "asset_id",
    "resolution",
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "trades",
    "source_bars",
    "date",
)


def gold_table_name(resolution: str) -> str:
    return f"ohlcv_{resolution}"


@dataclass
class GoldRunReport:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def rollup_ohlcv(silver: DataFrame, resolution: str) -> DataFrame:
    """Aggregate silver bars into ``resolution`` buckets (see the module docstring)."""
    unit, target_seconds = GOLD_RESOLUTIONS[resolution]
    bar_seconds = _seconds_of(F.col("resolution"))
    usable = silver.where(bar_seconds <= target_seconds).withColumn("_seconds", bar_seconds)
    finest = F.min("_seconds").over(Window.partitionBy("asset_id"))
    bars = usable.withColumn("_finest", finest).where(F.col("_seconds") == F.col("_finest"))
    bucket = F.date_trunc(unit, "ts").alias("ts")
    return (
        bars.groupBy("asset_id", bucket)
        .agg(
            F.min_by("open", "ts").alias("open"),
            F.max("high").alias("high"),
            F.min("low").alias("low"),
            F.max_by("close", "ts").alias("close"),
            F.sum("volume").alias("volume"),
            F.sum("trades").alias("trades"),
            F.count(F.lit(1)).alias("source_bars"),
        )
        .withColumn("resolution", F.lit(resolution))
        .withColumn("date", F.to_date("ts"))
        .select(*GOLD_COLUMNS)
    )


def _seconds_of(resolution: Column) -> Column:
    literal = F.create_map(*(F.lit(x) for item in SILVER_SECONDS.items() for x in item))
    return F.try_element_at(literal, resolution)


class GoldOhlcvJob:
    """Rebuilds ``gold/ohlcv_<resolution>`` for every served resolution from silver prices."""

    def __init__(
        self, spark: SparkSession, lake: DeltaLake, *, silver_uri: str, gold_uri: dict[str, str]
    ) -> None:
        unknown = set(gold_uri) - set(GOLD_RESOLUTIONS)
        if unknown:
            raise ValueError(f"unsupported gold resolutions {sorted(unknown)}")
        self.spark = spark
        self.lake = lake
        self.silver_uri = silver_uri
        self.gold_uri = gold_uri

    def run(self) -> GoldRunReport:
        started = time.perf_counter()
        silver = self.lake.to_spark(self.spark, self.silver_uri)
        report = GoldRunReport()
        for resolution, uri in self.gold_uri.items():
            gold = rollup_ohlcv(silver, resolution).orderBy("asset_id", "ts")
            report.rows[resolution] = self.lake.overwrite(gold, uri)
        report.seconds = time.perf_counter() - started
        return report
