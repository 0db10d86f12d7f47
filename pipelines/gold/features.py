"""``gold/features_daily``: returns, volatility, drawdown and liquidity of one asset-day.

Computed from the gold daily bars (``gold/ohlcv_1d``) plus, for the zero-volume share, the
asset-day's finest intraday silver bars. Definitions (also in docs/data-model.md):

* ``return_1d`` = close / previous close - 1 and ``log_return_1d`` = ln(close / previous close),
  the previous close being the asset's previous daily bar (null for its first bar).
* ``realized_vol_<n>d``: sample standard deviation of the daily log returns of the trailing
  ``n`` calendar days (the day itself included) x sqrt(365); null until the window holds
  :data:`MIN_PERIODS` returns.
* ``drawdown`` = close / highest close since the asset's first bar - 1 (<= 0).
* ``max_drawdown_30d``: the deepest peak-to-trough fall inside the trailing 30 calendar days
  (peaks taken inside the window), <= 0.
* ``dollar_volume`` = close x volume (volume is in units of the asset); null where the day's
  volume is unknown (see :mod:`pipelines.gold.ohlcv`), and such days are left out of Amihud's
  mean rather than counted as days without trading.
* ``amihud_30d``: mean of |return_1d| / (dollar_volume in millions of USD) over the trailing 30
  calendar days with dollar volume > 0 (Amihud's illiquidity: the price move per $1M traded).
* ``zero_volume_share``: share of the day's finest intraday silver bars (resolution shorter than
  a day) with zero volume, out of those with a known volume; ``intraday_bars`` counts them.
  Null when the day has daily bars only.
* ``hl_range`` = (high - low) / close of the daily bar.

Windows are calendar-day ranges (``rangeBetween``), so an asset that trades on business days only
sees fewer observations per window; the minimum counts below are set so such an asset still gets
values.
"""

from __future__ import annotations

import math

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from pipelines.contracts.gold import DAY_SECONDS, FEATURE_COLUMNS
from pipelines.gold.ohlcv import bar_seconds, finest_bars

#: Annualisation of a daily volatility: these markets trade every calendar day.
ANNUALISATION = math.sqrt(365)
#: Trailing window (calendar days) -> fewest observations that give a value.
MIN_PERIODS: dict[int, int] = {7: 5, 30: 20}
#: Amihud's ratio is quoted per million USD traded (raw per-dollar values are ~1e-12).
AMIHUD_SCALE_USD = 1e6


def trailing_days(days: int) -> WindowSpec:
    """The asset's rows of the ``days`` calendar days ending on the current row's date."""
    return Window.partitionBy("asset_id").orderBy(F.unix_date("date")).rangeBetween(-(days - 1), 0)


def with_min_periods(value: Column, observed: Column, days: int) -> Column:
    """``value`` of a trailing window, or null when it saw fewer than the minimum observations."""
    window = trailing_days(days)
    return F.when(observed.over(window) >= MIN_PERIODS[days], value.over(window))


def realized_vol(log_return: Column, days: int) -> Column:
    return with_min_periods(F.stddev_samp(log_return), F.count(log_return), days) * ANNUALISATION


def max_drawdown(days: int) -> Column:
    """Deepest close-to-later-close fall inside the trailing window: fold the window's closes in
    date order, carrying the running peak and the worst fall from it."""
    window = trailing_days(days)
    closes = F.array_sort(F.collect_list(F.struct("date", "close")).over(window))
    start = F.struct(F.lit(None).cast("double").alias("peak"), F.lit(0.0).alias("worst"))

    def step(acc: Column, bar: Column) -> Column:
        peak = F.greatest(acc["peak"], bar["close"])
        fall = F.try_divide(bar["close"], peak) - 1
        return F.struct(peak.alias("peak"), F.least(acc["worst"], fall).alias("worst"))

    worst = F.aggregate(closes, start, step, lambda acc: acc["worst"])
    return F.when(F.count("close").over(window) >= MIN_PERIODS[days], worst)


def amihud(abs_return: Column, dollar_volume: Column, days: int) -> Column:
    """Mean |return| per million USD traded over the trailing days that traded."""
    ratio = F.when(dollar_volume > 0, F.try_divide(abs_return, dollar_volume / AMIHUD_SCALE_USD))
    return with_min_periods(F.avg(ratio), F.count(ratio), days)


def zero_volume_share(silver: DataFrame) -> DataFrame:
    """Per asset-day: share of the finest intraday bars with zero volume, and their count."""
    intraday = silver.where(bar_seconds(F.col("resolution")) < DAY_SECONDS)
    bars = finest_bars(intraday, DAY_SECONDS)
    return bars.groupBy("asset_id", F.col("day").alias("date")).agg(
        F.avg((F.col("volume") == 0).cast("double")).alias("zero_volume_share"),
        F.count("volume").alias("intraday_bars"),
    )


def daily_features(daily_bars: DataFrame, silver: DataFrame) -> DataFrame:
    """Features of every daily bar in ``daily_bars`` (gold ``ohlcv_1d`` rows; pass the asset's
    whole history: drawdown looks back to the first bar). ``silver`` holds the intraday bars
    of the days wanted; days it lacks get a null zero-volume share."""
    previous = F.lag("close").over(Window.partitionBy("asset_id").orderBy("date"))
    running_peak = F.max("close").over(
        Window.partitionBy("asset_id")
        .orderBy("date")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    ratio = F.when(previous > 0, F.try_divide(F.col("close"), previous))
    base = (
        daily_bars.withColumn("return_1d", ratio - 1)
        .withColumn("log_return_1d", F.when(ratio > 0, F.ln(ratio)))
        .withColumn("dollar_volume", F.col("close") * F.col("volume"))
    )
    log_return, dollar_volume = F.col("log_return_1d"), F.col("dollar_volume")
    features = (
        base.withColumn("realized_vol_7d", realized_vol(log_return, 7))
        .withColumn("realized_vol_30d", realized_vol(log_return, 30))
        .withColumn("drawdown", F.try_divide(F.col("close"), running_peak) - 1)
        .withColumn("max_drawdown_30d", max_drawdown(30))
        .withColumn("amihud_30d", amihud(F.abs("return_1d"), dollar_volume, 30))
        .withColumn("hl_range", F.try_divide(F.col("high") - F.col("low"), F.col("close")))
    )
    return features.join(zero_volume_share(silver), ["asset_id", "date"], "left").select(
        *FEATURE_COLUMNS
    )
