"""The signals step: backtest every asset's forecast, sentiment and risk signals over the last
days of gold and MERGE each signal's reading into ``gold/signals``.

Reads ``gold/ohlcv_1d`` (closes) and ``gold/sentiment_daily`` (news sentiment, when built); the
forecast signal uses the asset's registered ARIMA order (``models/`` in the lake), refit daily
on the past only. The rules are :mod:`models.forecast.backtest`'s, the ones ``rwa backtest``
prints. Rows are keyed by (asset_id, signal, as_of): rerunning a day replaces that day's
readings, other days are kept. The serving load carries them to ``signals``; nothing trades.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from models.forecast.backtest import DEFAULT_DAYS as DEFAULT_DAYS
from models.forecast.backtest import AssetBacktest, backtest_asset
from models.forecast.forecasters import AutoArima
from models.inputs import gold_frame
from models.registry import ModelRegistry
from pipelines.contracts.gold import SIGNALS
from pipelines.contracts.served import SIGNAL_PERFORMANCE, SIGNALS_SCHEMA
from pipelines.core.errors import NotFoundError
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths

SIGNALS_TABLE = SIGNALS.name
KEYS = SIGNALS.key


@dataclass
class SignalRunReport:
    days: int
    backtests: list[AssetBacktest] = field(default_factory=list)
    #: Assets left out, with why (too few daily bars).
    skipped: dict[str, str] = field(default_factory=dict)
    rows_written: int = 0


def backtest_lake(
    lake: DeltaLake,
    paths: LakePaths,
    registry: ModelRegistry,
    days: int = DEFAULT_DAYS,
    asset_ids: Sequence[str] | None = None,
) -> SignalRunReport:
    """Backtest, over the last ``days`` days of ``gold/ohlcv_1d``, buy-and-hold beside the
    forecast, sentiment and risk signals of each asset (all, or ``asset_ids``)."""
    bars = gold_frame(lake, paths, "ohlcv_1d", ["close"])
    if bars is None:
        raise NotFoundError(f"no gold/ohlcv_1d at {paths.gold('ohlcv_1d')}: run rwa gold first")
    scores = gold_frame(lake, paths, "sentiment_daily", ["sentiment_score"])
    report = SignalRunReport(days)
    for asset_id in asset_ids or sorted(bars["asset_id"].unique()):
        mine = bars[bars["asset_id"] == asset_id]
        if len(mine) < days + 30:
            report.skipped[asset_id] = f"{len(mine)} daily bars, need {days + 30}"
            continue
        dates = list(mine["date"])
        sentiment = np.full(len(dates), np.nan)
        if scores is not None:
            mood = scores[scores["asset_id"] == asset_id].set_index("date")["sentiment_score"]
            sentiment = mood.reindex(dates).to_numpy(float)
        latest = registry.latest(f"arima-{asset_id}")
        order = latest.params.get("order") if latest is not None else None
        forecaster = AutoArima(order=tuple(order) if order else None)
        closes = mine["close"].to_numpy(float)
        report.backtests.append(
            backtest_asset(asset_id, closes, sentiment, forecaster, days, dates)
        )
    return report


def signals_lake(
    lake: DeltaLake, paths: LakePaths, registry: ModelRegistry, days: int = DEFAULT_DAYS
) -> SignalRunReport:
    """:func:`backtest_lake` over every asset, its readings MERGEd into ``gold/signals``."""
    report = backtest_lake(lake, paths, registry, days)
    rows = signal_rows(report.backtests)
    if rows.num_rows:
        lake.merge(rows, paths.gold(SIGNALS_TABLE), keys=KEYS, update_when="true")
    report.rows_written = rows.num_rows
    return report


def signal_rows(backtests: Sequence[AssetBacktest]) -> pa.Table:
    """The readings as ``gold/signals`` rows (``SIGNALS_SCHEMA``); ``generated_at`` is the end
    of the as-of day (the signals use that day's close). Backtests without dates are left out."""
    records = []
    for result in backtests:
        if result.first_day is None or result.last_day is None:
            continue
        hold = result.buy_and_hold
        for reading in result.readings:
            figures = reading.performance
            records.append(
                {
                    "asset_id": result.asset_id,
                    "signal": reading.signal,
                    "generated_at": dt.datetime.combine(
                        result.last_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
                    ),
                    "as_of": result.last_day,
                    "direction": reading.direction,
                    "strength": reading.strength,
                    "inputs": json.dumps(reading.inputs, sort_keys=True),
                    "rule": reading.rule,
                    "window_start": result.first_day,
                    "window_end": result.last_day,
                    "days": figures.days,
                    **{name: getattr(figures, name) for name in SIGNAL_PERFORMANCE},
                    "hit_rate": figures.hit_rate,
                    "exposure": figures.exposure,
                    **{f"hold_{name}": getattr(hold, name) for name in SIGNAL_PERFORMANCE},
                    "hold_hit_rate": hold.hit_rate if hold.hit_rate is not None else 0.0,
                }
            )
    return pa.Table.from_pylist(records, schema=SIGNALS_SCHEMA)
