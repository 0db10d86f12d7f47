"""Market risk: how much and how suddenly the price can move, and how hard it is to exit.

Measured from the trailing daily bars (``LOOKBACK_DAYS``, two years): the EWMA volatility
forecast (annualised), one-day VaR (95%) and expected shortfall (97.5%) by filtered historical
simulation (:mod:`models.risk.tail`, backtested in ``bench/var_backtest.py``), the deepest recent
drawdown, and liquidity (Amihud illiquidity, days without trading, DEX liquidity). For
dollar-pegged assets (stablecoins, and $1-NAV fund tokens whose closes sit at $1) the peg is
measured too -- mean and worst deviation from $1 and de-peg episodes -- and weighs as much as
everything else, because for them a broken peg *is* the market risk.

No factor has a hard window edge: volatility, VaR and ES weigh past days by the EWMA's decay,
drawdowns and the peg's deviations and episodes by ``RECENCY_HALF_LIFE`` bars, so a shock fades
out of a score day by day instead of dropping out of it on the day it leaves a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from models.risk.factors import Factor, linear_scale, log_scale
from models.risk.tail import tail_forecast

SUB_SCORE = "market"
#: Calendar days of daily bars the risk step hands over: two years, enough standardised returns
#: for the VaR's empirical tail; older days would weigh almost nothing.
LOOKBACK_DAYS = 730
#: Calendar days of liquidity features (Amihud, zero-volume share, DEX liquidity) read.
LIQUIDITY_LOOKBACK_DAYS = 90
#: Fewest daily returns for volatility, VaR and ES to be measured at all; between this and a
#: few hundred the VaR leans on its Student-t prior (``models.risk.tail``).
MIN_RETURNS = 20
#: Bars after which a drawdown, a peg deviation or a de-peg episode counts half.
RECENCY_HALF_LIFE = 60.0
#: A day whose low or high strays this far from $1 is a de-peg day (consecutive days: one
#: episode).
DEPEG_THRESHOLD = 0.005
#: A fund token is treated as pegged when its median close is this close to $1.
PEGGED_NAV_BAND = 0.01


@dataclass(frozen=True, slots=True)
class MarketHistory:
    """The trailing window of one asset, oldest first."""

    close: np.ndarray
    high: np.ndarray
    low: np.ndarray
    #: Latest 30-day Amihud illiquidity (|return| per $1M traded); None without volume data.
    amihud: float | None
    #: Mean share of intraday bars without volume; None without intraday bars.
    zero_volume_share: float | None
    #: Latest DEX liquidity in USD; None when no source reports it.
    dex_liquidity_usd: float | None

    @property
    def log_returns(self) -> np.ndarray:
        closes = self.close[self.close > 0]
        return np.diff(np.log(closes)) if closes.size > 1 else np.array([])


def is_pegged(asset_class: str, history: MarketHistory) -> bool:
    if asset_class == "stablecoin":
        return True
    if asset_class not in ("money_market_fund", "tokenized_treasury") or history.close.size == 0:
        return False
    return abs(float(np.median(history.close)) - 1.0) < PEGGED_NAV_BAND


def market_factors(history: MarketHistory, pegged: bool) -> list[Factor]:
    returns = history.log_returns
    factors = _move_factors(returns) + _liquidity_factors(history)
    if pegged:
        peg = _peg_factors(history)
        # the peg weighs as much as all other market factors together
        others = sum(f.weight for f in factors)
        scale = others / sum(f.weight for f in peg)
        factors += [_reweighted(f, f.weight * scale) for f in peg]
    return factors


def _move_factors(returns: np.ndarray) -> list[Factor]:
    if returns.size < MIN_RETURNS:
        note = f"only {returns.size} daily returns (< {MIN_RETURNS}): price risk not measurable"
        return [Factor(SUB_SCORE, "price_history", float(returns.size), 70.0, 0.8, note)]
    var95 = tail_forecast(returns, 0.95)
    es975 = tail_forecast(returns, 0.975).es
    vol = var95.volatility * math.sqrt(365)
    drawdown = recent_drawdown(np.exp(np.cumsum(np.concatenate([[0.0], returns]))))
    return [
        Factor(
            SUB_SCORE,
            "volatility_annualised",
            vol,
            log_scale(vol, 0.02, 1.0),
            0.3,
            f"{vol:.1%} a year, EWMA forecast (0 points at 2%, 100 at 100%)",
        ),
        Factor(
            SUB_SCORE,
            "var_95_1d",
            var95.var,
            log_scale(var95.var, 0.0015, 0.09),
            0.2,
            f"a 1-in-20 day loses {var95.var:.2%} or more (filtered historical simulation)",
        ),
        Factor(
            SUB_SCORE,
            "expected_shortfall_975_1d",
            es975,
            log_scale(es975, 0.0025, 0.14),
            0.15,
            f"the worst 2.5% of days lose {es975:.2%} on average",
        ),
        Factor(
            SUB_SCORE,
            "max_drawdown",
            drawdown,
            log_scale(drawdown, 0.01, 0.6),
            0.15,
            f"deepest recent fall from a peak: {drawdown:.1%}, weighed by recency "
            f"(half after {RECENCY_HALF_LIFE:.0f} bars)",
        ),
    ]


def _liquidity_factors(history: MarketHistory) -> list[Factor]:
    factors = []
    if history.amihud is None:
        factors.append(
            Factor(
                SUB_SCORE,
                "illiquidity_amihud",
                None,
                60.0,
                0.1,
                "no traded volume reported: exit liquidity unknown",
            )
        )
    else:
        points = log_scale(history.amihud, 1e-6, 1.0)
        factors.append(
            Factor(
                SUB_SCORE,
                "illiquidity_amihud",
                history.amihud,
                points,
                0.1,
                f"a $1M trade moves the price about {history.amihud:.2%}",
            )
        )
    if history.zero_volume_share is not None:
        share = history.zero_volume_share
        factors.append(
            Factor(
                SUB_SCORE,
                "zero_volume_share",
                share,
                linear_scale(share, 0.0, 0.5),
                0.05,
                f"{share:.0%} of intraday bars had no trades",
            )
        )
    if history.dex_liquidity_usd is not None:
        depth = history.dex_liquidity_usd
        points = 100.0 - log_scale(max(depth, 1.0), 1e6, 1e9)
        factors.append(
            Factor(
                SUB_SCORE,
                "dex_liquidity_usd",
                depth,
                points,
                0.05,
                f"${depth:,.0f} of DEX liquidity (0 points at $1B, 100 at $1M)",
            )
        )
    return factors


def _peg_factors(history: MarketHistory) -> list[Factor]:
    if history.close.size == 0:
        return [Factor(SUB_SCORE, "peg_history", None, 70.0, 1.0, "no daily bars to check the peg")]
    weights = recency_weights(history.close.size)
    deviation = np.abs(history.close - 1.0)
    mean_dev = float(np.average(deviation, weights=weights))
    intraday = np.maximum.reduce([deviation, np.abs(history.low - 1.0), np.abs(history.high - 1.0)])
    worst = float(np.max(intraday * weights))
    episodes = depeg_episodes(history)
    recent_episodes = float(weights[_depeg_episode_ends(history)].sum())
    return [
        Factor(
            SUB_SCORE,
            "peg_mean_deviation",
            mean_dev,
            log_scale(mean_dev, 1e-4, 0.02),
            0.3,
            f"closes sit {mean_dev:.3%} from $1 on average (recency-weighted)",
        ),
        Factor(
            SUB_SCORE,
            "peg_worst_deviation",
            worst,
            log_scale(worst, 5e-4, 0.10),
            0.3,
            f"furthest from $1 within a day: {worst:.2%} (recency-weighted)",
        ),
        Factor(
            SUB_SCORE,
            "depeg_episodes",
            recent_episodes,
            min(100.0, 50.0 * recent_episodes),
            0.4,
            f"{episodes} episode(s) of days trading beyond ±{DEPEG_THRESHOLD:.1%} of $1, "
            f"{recent_episodes:.2f} weighed by recency",
        ),
    ]


def recency_weights(size: int) -> np.ndarray:
    """Weight of each of ``size`` bars (oldest first): 1 for the latest, halving every
    ``RECENCY_HALF_LIFE`` bars back."""
    age = np.arange(size - 1, -1, -1, dtype=float)
    return np.asarray(0.5 ** (age / RECENCY_HALF_LIFE))


def recent_drawdown(path: np.ndarray) -> float:
    """The deepest fall from a running peak, each day's drawdown weighed by its recency: a crash
    fades from the figure instead of vanishing the day it leaves the window."""
    if path.size == 0:
        return 0.0
    drawdowns = 1.0 - path / np.maximum.accumulate(path)
    return float(np.max(drawdowns * recency_weights(path.size)))


def depeg_episodes(history: MarketHistory) -> int:
    """Runs of consecutive days whose low or high strayed beyond the de-peg threshold."""
    return int(_depeg_episode_ends(history).sum())


def _depeg_episode_ends(history: MarketHistory) -> np.ndarray:
    """The last day of each de-peg episode (booleans per bar)."""
    off = (np.abs(history.low - 1.0) > DEPEG_THRESHOLD) | (
        np.abs(history.high - 1.0) > DEPEG_THRESHOLD
    )
    return np.asarray(off & ~np.concatenate([off[1:], [False]]))


def _reweighted(factor: Factor, weight: float) -> Factor:
    return Factor(factor.sub_score, factor.name, factor.value, factor.points, weight, factor.note)
