"""The gold tables: name, key and partitioning of each, and the column order of those whose
columns gold declares (docs/data-model.md). How a run writes them is gold's
(:mod:`pipelines.gold.tables`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.contracts.measures import (
    FEATURE_MEASURES,
    FLOW_METRICS,
    MARKET_AS_OF_COLUMNS,
    MARKET_FLOW_MEASURES,
    MARKET_STOCK_MEASURES,
    ONCHAIN_METRICS,
)
from pipelines.core.errors import DataContractError


@dataclass(frozen=True, slots=True)
class GoldTable:
    """One gold Delta table: ``gold/<name>``, unique by ``key``."""

    name: str
    key: tuple[str, ...]
    #: Intraday tables hold many rows per day: one folder per day keeps a range rewrite to the
    #: files of those days. Daily tables are small and stay in a few files.
    partition_by: tuple[str, ...] = ()
    #: The column a time window filters on (None: the first of ``ts``/``date`` it has).
    time_column: str | None = None


DAY_SECONDS = 86_400

#: A resolution is a count and a unit: ``1m``, ``15m``, ``1h``, ``1d``.
RESOLUTION_PATTERN = r"^([0-9]+)([smhd])$"
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": DAY_SECONDS}


def resolution_seconds(resolution: str) -> int:
    """Length of a bar of ``resolution`` in seconds (``"5m"`` -> 300): the rule gold builds
    buckets by, and lineage traces them back by."""
    match = re.fullmatch(RESOLUTION_PATTERN, resolution)
    if match is None:
        raise DataContractError(f"resolution {resolution!r} is not <count><s|m|h|d>")
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)]


#: Served OHLCV resolutions, finest first.
OHLCV_RESOLUTIONS: tuple[str, ...] = ("1m", "5m", "1h", "1d")

OHLCV_TABLES: dict[str, GoldTable] = {
    res: GoldTable(f"ohlcv_{res}", ("asset_id", "ts"), () if res == "1d" else ("date",))
    for res in OHLCV_RESOLUTIONS
}
FEATURES_DAILY = GoldTable("features_daily", ("asset_id", "date"))
ONCHAIN_DAILY = GoldTable("onchain_daily", ("asset_id", "date"))
MACRO_ASOF = GoldTable("macro_asof", ("asset_id", "date", "series_id", "region"))
SENTIMENT_DAILY = GoldTable("sentiment_daily", ("asset_id", "date"))
MARKET_DAILY = GoldTable("market_daily", ("asset_id", "date"))

#: Every gold table, in the order a run builds them (later ones read the daily OHLCV).
GOLD_TABLES: tuple[GoldTable, ...] = (
    *OHLCV_TABLES.values(),
    FEATURES_DAILY,
    ONCHAIN_DAILY,
    MACRO_ASOF,
    SENTIMENT_DAILY,
    MARKET_DAILY,
)

#: Tables the models write into gold (``gold/<name>`` too), beside the gold build's own.
PREDICTIONS = GoldTable(
    "predictions",
    ("asset_id", "horizon_days", "generated_at", "model_version", "target_date"),
    time_column="generated_at",
)
RISK_SCORES = GoldTable("risk_scores", ("asset_id", "date", "model_version"))
ARTICLE_SENTIMENT = GoldTable("article_sentiment", ("article_id", "model_version"))
NEWS_ARTICLES = GoldTable("news_articles", ("asset_id", "article_id"), time_column="published_at")
#: Each asset's forecast, sentiment and risk signals as of a day, with their backtests.
SIGNALS = GoldTable("signals", ("asset_id", "signal", "as_of"), time_column="as_of")
MODEL_TABLES: tuple[GoldTable, ...] = (
    PREDICTIONS,
    RISK_SCORES,
    ARTICLE_SENTIMENT,
    NEWS_ARTICLES,
    SIGNALS,
)

#: Table order of ``gold/features_daily``: the served measures, plus ``intraday_bars`` (the
#: count behind ``zero_volume_share``), which sits before ``hl_range`` in existing tables.
FEATURE_COLUMNS: tuple[str, ...] = (
    "asset_id",
    "date",
    *(measure for measure in FEATURE_MEASURES if measure != "hl_range"),
    "intraday_bars",
    "hl_range",
)
#: Table order of ``gold/onchain_daily``: the silver metrics, the derived measures with the
#: market close between them, the sources that reported the day, then the token flows of the
#: day's Transfer logs (added after ``sources``, so existing tables only gain columns).
ONCHAIN_COLUMNS: tuple[str, ...] = (
    "asset_id",
    "date",
    *ONCHAIN_METRICS,
    "net_exchange_flow_usd",
    "close",
    "premium_to_nav",
    "sources",
    *FLOW_METRICS,
)
#: Table order of ``gold/market_daily``: stocks, flows, how the yield was measured, the as-of
#: dates of the carried stocks and whether the row is stale.
MARKET_COLUMNS: tuple[str, ...] = (
    "asset_id",
    "date",
    *MARKET_STOCK_MEASURES,
    *MARKET_FLOW_MEASURES,
    "yield_method",
    *MARKET_AS_OF_COLUMNS,
    "stale",
)
