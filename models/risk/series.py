"""The risk model's market measures on plain data: any pandas series of prices or returns.

Thin, typed wrappers over the code the risk job runs: the filtered-historical-simulation VaR
and ES (:func:`models.risk.tail.tail_forecast`), and the market sub-score's factors
(:func:`models.risk.market.market_factors`: EWMA volatility, VaR 95%, ES 97.5%, the
recency-weighted drawdown, Amihud illiquidity, the peg for pegged assets) with the sub-score
they make. A series is read oldest first (sorted by its index, missing values dropped).
Examples: docs/risk.md ("On your own data").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.risk.factors import Factor, to_score, weighted_points
from models.risk.market import MarketHistory, market_factors
from models.risk.tail import TailForecast, tail_forecast

#: Amihud's ratio per million USD traded, over the trailing days, as gold's ``amihud_30d``
#: (``pipelines/gold/features.py``): the mean of |return| / (dollar volume / 1e6) over the
#: days that traded, given at least ``AMIHUD_MIN_DAYS`` of them.
AMIHUD_SCALE_USD = 1e6
AMIHUD_DAYS = 30
AMIHUD_MIN_DAYS = 20


def _ordered(series: pd.Series) -> pd.Series:
    return series.dropna().sort_index().astype(float)


def log_returns(prices: pd.Series) -> pd.Series:
    """Daily log returns of positive ``prices`` (the first value has none)."""
    clean = _ordered(prices)
    if (clean <= 0).any():
        raise ValueError("prices must be positive")
    return pd.Series(np.log(clean).diff().iloc[1:], name=prices.name)


def tail_risk(returns: pd.Series, level: float = 0.95) -> TailForecast:
    """Tomorrow's one-day VaR and ES at ``level`` (losses positive, in log-return units) from
    daily log ``returns`` (:func:`log_returns`), by the risk score's filtered historical
    simulation; ``volatility`` is the EWMA forecast (daily)."""
    if not 0.5 < level < 1.0:
        raise ValueError(f"level must be between 0.5 and 1, got {level}")
    values = _ordered(returns).to_numpy()
    if values.size == 0:
        raise ValueError("tail risk needs at least one return")
    return tail_forecast(values, level)


def amihud_illiquidity(prices: pd.Series, dollar_volume: pd.Series) -> float | None:
    """Amihud's illiquidity over the trailing :data:`AMIHUD_DAYS` calendar days (rows, without
    a DatetimeIndex): the mean |simple return| per $1M traded on the days with dollar volume
    > 0 (None below :data:`AMIHUD_MIN_DAYS` such days)."""
    clean = _ordered(prices)
    moves = clean.pct_change().abs().iloc[1:]
    if isinstance(moves.index, pd.DatetimeIndex) and moves.size:
        moves = moves[moves.index > moves.index[-1] - pd.Timedelta(days=AMIHUD_DAYS)]
    else:
        moves = moves.tail(AMIHUD_DAYS)
    traded = dollar_volume.reindex(moves.index)
    ratio = (moves / (traded / AMIHUD_SCALE_USD))[traded > 0].dropna()
    return float(ratio.mean()) if ratio.size >= AMIHUD_MIN_DAYS else None


@dataclass(frozen=True, slots=True)
class MarketMeasures:
    """The market risk of one series as the risk score measures it."""

    #: Annualised EWMA volatility forecast (365 days); None below 20 returns.
    volatility_annualised: float | None
    #: One-day 95% VaR and 97.5% ES (log-return units, losses positive).
    var_95_1d: float | None
    es_975_1d: float | None
    #: Deepest fall from a running peak, each day's weighed by recency (half after 60 bars).
    max_drawdown: float | None
    #: Amihud's illiquidity (|return| per $1M traded); None without dollar volume.
    amihud: float | None
    #: The market sub-score 1-100 these factors make (the composite weighs it per class).
    market_score: int
    #: Every factor with its value, points 0-100, weight and a note in words.
    factors: tuple[Factor, ...]


def market_measures(
    prices: pd.Series,
    *,
    high: pd.Series | None = None,
    low: pd.Series | None = None,
    dollar_volume: pd.Series | None = None,
    pegged: bool = False,
) -> MarketMeasures:
    """The market factors of the risk score on daily ``prices`` (``high``/``low`` aligned with
    them, for the peg of a ``pegged`` asset; ``dollar_volume`` for Amihud's illiquidity).
    Use about two years of days, as the risk job does (``LOOKBACK_DAYS``)."""
    close = _ordered(prices)
    history = MarketHistory(
        close=close.to_numpy(),
        high=(high.reindex(close.index) if high is not None else close).to_numpy(float),
        low=(low.reindex(close.index) if low is not None else close).to_numpy(float),
        amihud=None if dollar_volume is None else amihud_illiquidity(close, dollar_volume),
        zero_volume_share=None,
        dex_liquidity_usd=None,
    )
    factors = tuple(market_factors(history, pegged))
    values = {f.name: f.value for f in factors}

    def number(name: str) -> float | None:
        value = values.get(name)
        return float(value) if isinstance(value, int | float) else None

    return MarketMeasures(
        volatility_annualised=number("volatility_annualised"),
        var_95_1d=number("var_95_1d"),
        es_975_1d=number("expected_shortfall_975_1d"),
        max_drawdown=number("max_drawdown"),
        amihud=history.amihud,
        market_score=to_score(weighted_points(factors)),
        factors=factors,
    )
