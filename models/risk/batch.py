"""The risk step: score every reference asset from the gold tables, as of a day.

Reads ``gold/ohlcv_1d`` (the trailing two years of daily bars), ``gold/features_daily`` (Amihud
illiquidity, zero-volume share) and ``gold/onchain_daily`` when built (DEX liquidity, premium to
NAV; both over the trailing 90 days), scores each reference asset
(:func:`~models.risk.engine.score_asset`) and MERGEs the rows into ``gold/risk_scores`` keyed by
(asset_id, date, model_version): rerunning a day replaces that day's scores, other days are kept.
The serving load carries them to ``risk_scores``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from models.inputs import gold_frame
from models.risk.engine import MODEL_VERSION, RiskScore, score_asset
from models.risk.market import LIQUIDITY_LOOKBACK_DAYS, LOOKBACK_DAYS, MarketHistory
from pipelines.contracts.gold import RISK_SCORES
from pipelines.contracts.reference import Asset
from pipelines.contracts.served import RISK_SCORES_SCHEMA
from pipelines.core.errors import NotFoundError
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths

RISK_TABLE = RISK_SCORES.name
KEYS = RISK_SCORES.key
GOLD_SCHEMA = pa.schema([*RISK_SCORES_SCHEMA, pa.field("date", pa.date32())])


@dataclass
class RiskRunReport:
    as_of: dt.date
    scores: list[RiskScore] = field(default_factory=list)
    #: Assets with no daily bar in the window (scored from reference data alone).
    without_prices: list[str] = field(default_factory=list)
    rows_written: int = 0


def score_lake(
    lake: DeltaLake, paths: LakePaths, assets: Sequence[Asset], as_of: dt.date | None = None
) -> RiskRunReport:
    """Score ``assets`` as of ``as_of`` (default: the latest day of ``gold/ohlcv_1d``) and MERGE
    the scores into ``gold/risk_scores``."""
    daily = gold_frame(lake, paths, "ohlcv_1d", ["high", "low", "close"])
    if daily is None:
        raise NotFoundError(f"no gold/ohlcv_1d at {paths.gold('ohlcv_1d')}: run rwa gold first")
    as_of = as_of or max(daily["date"])
    first = as_of - dt.timedelta(days=LOOKBACK_DAYS)
    window = daily[(daily["date"] > first) & (daily["date"] <= as_of)]
    recent = as_of - dt.timedelta(days=LIQUIDITY_LOOKBACK_DAYS)
    features = gold_frame(
        lake, paths, "features_daily", ["amihud_30d", "zero_volume_share"], recent, as_of
    )
    onchain = gold_frame(
        lake, paths, "onchain_daily", ["dex_liquidity_usd", "premium_to_nav"], recent, as_of
    )
    report = RiskRunReport(as_of)
    for asset in assets:
        bars = window[window["asset_id"] == asset.asset_id]
        if bars.empty:
            report.without_prices.append(asset.asset_id)
        history = MarketHistory(
            close=bars["close"].to_numpy(float),
            high=bars["high"].to_numpy(float),
            low=bars["low"].to_numpy(float),
            amihud=_latest(features, asset.asset_id, "amihud_30d"),
            zero_volume_share=_mean(features, asset.asset_id, "zero_volume_share"),
            dex_liquidity_usd=_latest(onchain, asset.asset_id, "dex_liquidity_usd"),
        )
        premium = _latest(onchain, asset.asset_id, "premium_to_nav")
        report.scores.append(score_asset(asset, history, as_of, premium))
    rows = score_rows(report.scores)
    lake.merge(rows, paths.gold(RISK_TABLE), keys=KEYS, update_when="true")
    report.rows_written = rows.num_rows
    return report


def score_rows(scores: Sequence[RiskScore]) -> pa.Table:
    """Scores as ``gold/risk_scores`` rows (the serving schema plus the as-of ``date``);
    ``calculated_at`` is the end of the as-of day (the scores use that day's close)."""
    records = [
        {
            "asset_id": s.asset_id,
            "calculated_at": dt.datetime.combine(
                s.as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            ),
            "model_version": MODEL_VERSION,
            "composite_score": s.composite,
            "market_risk": s.sub_scores["market"],
            "credit_risk": s.sub_scores["credit"],
            "regulatory_risk": s.sub_scores["regulatory"],
            "technical_risk": s.sub_scores["technical"],
            "factors": s.factors_json(),
            "date": s.as_of,
        }
        for s in scores
    ]
    return pa.Table.from_pylist(records, schema=GOLD_SCHEMA)


def _values(frame: pd.DataFrame | None, asset_id: str, column: str) -> np.ndarray:
    if frame is None:
        return np.array([])
    values = frame.loc[frame["asset_id"] == asset_id, column].dropna()
    return values.to_numpy(float)


def _latest(frame: pd.DataFrame | None, asset_id: str, column: str) -> float | None:
    values = _values(frame, asset_id, column)
    return float(values[-1]) if values.size else None


def _mean(frame: pd.DataFrame | None, asset_id: str, column: str) -> float | None:
    values = _values(frame, asset_id, column)
    return float(values.mean()) if values.size else None
