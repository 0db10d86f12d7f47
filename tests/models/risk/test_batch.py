"""The risk step on a Delta lake: two years of daily bars for the price tail, 90 days of
liquidity features, scores MERGEd into gold/risk_scores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

from models.risk.batch import RISK_TABLE, score_lake
from models.risk.engine import score_asset
from models.risk.market import LIQUIDITY_LOOKBACK_DAYS, LOOKBACK_DAYS, MarketHistory
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.reference import load_assets
from tests.fixtures.lake import lake_settings

AS_OF = dt.date(2026, 6, 30)


def test_the_job_scores_from_two_years_of_bars_and_recent_liquidity(tmp_path: Path) -> None:
    lake_root = lake_settings(tmp_path)
    lake, paths = DeltaLake(lake_root.lake, lake_root.spark), LakePaths(lake_root.lake)
    days = [AS_OF - dt.timedelta(days=n) for n in range(899, -1, -1)]
    returns = np.random.default_rng(4).normal(0.0, 0.02, len(days))
    returns[-400] = -0.3  # a crash 400 days ago: outside 90 days, inside two years
    close = 100.0 * np.exp(np.cumsum(returns))
    bars = pa.table(
        {
            "asset_id": ["btc"] * len(days),
            "date": days,
            "high": (close * 1.01).tolist(),
            "low": (close * 0.99).tolist(),
            "close": close.tolist(),
        }
    )
    lake.merge(bars, paths.gold("ohlcv_1d"), keys=("asset_id", "date"), update_when="true")
    old, recent = AS_OF - dt.timedelta(days=200), AS_OF - dt.timedelta(days=10)
    features = pa.table(
        {
            "asset_id": ["btc", "btc"],
            "date": [old, recent],
            "amihud_30d": [0.5, 1e-5],
            "zero_volume_share": [0.9, 0.1],
        }
    )
    lake.merge(
        features, paths.gold("features_daily"), keys=("asset_id", "date"), update_when="true"
    )
    btc = next(a for a in load_assets() if a.asset_id == "btc")

    report = score_lake(lake, paths, [btc], AS_OF)

    window = close[-LOOKBACK_DAYS:]
    expected = score_asset(
        btc,
        MarketHistory(window, window * 1.01, window * 0.99, 1e-5, 0.1, None),
        AS_OF,
    )
    assert LIQUIDITY_LOOKBACK_DAYS < 200 < 400 < LOOKBACK_DAYS
    assert report.scores == [expected]
    assert lake.count_rows(paths.gold(RISK_TABLE)) == 1
