"""Value at risk and expected shortfall of a portfolio, from its assets' joint daily returns.

Pure maths on an aligned matrix of daily log returns (assets x days, oldest first) and the
portfolio's value weights (the held assets' shares of its value, summing to 1). Losses are
positive; ``var``/``es`` are in log-return units as in :mod:`models.risk.tail`, and
:attr:`TailRisk.var_share` turns them into a share of the portfolio's value.

**Alignment** (:func:`joint_returns`): only days on which *every* held asset has a positive
close are kept, and each return runs from one such day to the next, so all assets' returns
cover the same calendar interval (when a weekday-only fund token sits beside a coin that
trades on weekends, the coin's weekend is folded into its Monday return). Closes are never
forward-filled: a filled close is a zero return, which would understate both volatility and
correlation. How many days were dropped is reported.

**Methods**, side by side:

* ``historical`` -- filtered historical simulation, the risk engine's market sub-score method
  (:func:`models.risk.tail.tail_forecast`) applied to the portfolio's own daily log return
  ``log(sum_i w_i exp(r_i))``: the return the current weights would have earned each day of
  the history (daily rebalanced to ``w``). Its volatility, standardised returns and tail are
  the portfolio's, so diversification and co-crashes are in the data.
* ``parametric (normal|Student-t 5)`` -- RiskMetrics: the EWMA covariance matrix of the asset
  returns (``LAMBDA`` as in tail.py, no asymmetry or long-run blend: the textbook estimator),
  ``sigma_p = sqrt(w' S w)`` on the linear combination ``w' r`` of the log returns (the
  delta-normal approximation), with a normal or a unit-variance Student-t (``PRIOR_DOF``, the
  tail prior of tail.py) quantile and expected shortfall.

**10 days**: the square root of time, ``x_10 = sqrt(10) x_1``, for both methods. It is exact
for independent returns of constant variance; the 1-day figure is what is backtested
(bench/portfolio_var.py), whereas overlapping 10-day sums from two years of data hold only
about 50 independent observations (a 99% quantile from them is the 1st worst) and their
backtests have almost no power. Known biases, stated in docs/risk.md: it overstates after a
volatility spike (volatility mean-reverts within 10 days) and understates in calm spells, and
for fat-tailed daily returns it overstates the 99% quantile (sums of 10 days are closer to
normal).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from models.risk.market import MIN_RETURNS
from models.risk.tail import LAMBDA, PRIOR_DOF, SEED_RETURNS, student_t_tail, tail_forecast

LEVELS = (0.95, 0.99)
HORIZONS = (1, 10)
HISTORICAL = "historical: filtered historical simulation (EWMA FHS, models.risk.tail) of the "
HISTORICAL += "portfolio's daily log return at today's weights"
PARAMETRIC_NORMAL = f"parametric: RiskMetrics EWMA covariance (lambda {LAMBDA}), normal quantile"
PARAMETRIC_T = (
    f"parametric: RiskMetrics EWMA covariance (lambda {LAMBDA}), "
    f"unit-variance Student-t ({PRIOR_DOF:g} dof) quantile"
)
SQUARE_ROOT_OF_TIME = "square root of time on the 1-day figure"


class ShortHistoryError(ValueError):
    """Too few joint returns to measure the portfolio's tail; ``counts`` says how many closes
    each asset has, so the answer can name the asset that limits the window."""

    def __init__(self, returns: int, counts: Mapping[str, int]) -> None:
        self.returns = returns
        self.counts = dict(counts)
        short = ", ".join(f"{a} ({n} closes)" for a, n in sorted(counts.items(), key=_by_count))
        super().__init__(
            f"only {returns} daily returns common to every holding (at least {MIN_RETURNS} "
            f"needed); closes per asset: {short}"
        )


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]


@dataclass(frozen=True, slots=True)
class JointReturns:
    """Daily log returns of several assets over the same intervals."""

    assets: tuple[str, ...]
    #: The day each return ends on (``datetime64[D]``).
    days: np.ndarray
    #: ``(len(assets), len(days))``, oldest first.
    returns: np.ndarray
    #: Days inside the joint span on which some but not all assets had a close: left out.
    gap_days: int
    #: Closes each asset had before alignment.
    closes: Mapping[str, int]


def joint_returns(closes: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> JointReturns:
    """Align each asset's ``(days, closes)`` on the days all of them have a positive close
    and take log returns between consecutive common days (module docstring: no filling). A
    day given twice keeps its last close."""
    assets = tuple(closes)
    kept = [_positive(*closes[asset]) for asset in assets]
    span = _joint_span([days for days, _ in kept])
    common = span
    for days, _ in kept:
        common = common[np.isin(common, days)]
    matrix = np.array([prices[np.searchsorted(days, common)] for days, prices in kept], float)
    matrix = matrix.reshape(len(assets), common.size)
    returns = np.diff(np.log(matrix), axis=1) if common.size > 1 else np.empty((len(assets), 0))
    return JointReturns(
        assets=assets,
        days=common[1:],
        returns=returns,
        gap_days=int(span.size - common.size),
        closes={a: len(closes[a][1]) for a in assets},
    )


def _positive(days: np.ndarray, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The days with a positive close, sorted and unique, and their closes."""
    days = np.asarray(days, dtype="datetime64[D]")
    prices = np.asarray(prices, dtype=float)
    good = np.isfinite(prices) & (prices > 0)
    days, prices = days[good], prices[good]
    order = np.argsort(days, kind="stable")
    days, prices = days[order], prices[order]
    last = np.ones(days.size, dtype=bool)  # the last close of each day
    last[:-1] = days[1:] != days[:-1]
    return days[last], prices[last]


def _joint_span(days: Sequence[np.ndarray]) -> np.ndarray:
    """Every day with a close of some asset, from the latest first close to the earliest last
    one (before an asset was listed is no gap); empty when an asset has no close at all."""
    if not days or not all(d.size for d in days):
        return np.array([], dtype="datetime64[D]")
    first = max(d[0] for d in days)
    last = min(d[-1] for d in days)
    every = np.unique(np.concatenate(days))
    return np.asarray(every[(every >= first) & (every <= last)])


@dataclass(frozen=True, slots=True)
class TailRisk:
    """One VaR and ES figure (losses positive, log-return units) and how it was made."""

    method: str
    level: float
    horizon_days: int
    var: float
    es: float
    #: Daily volatility forecast of the portfolio under this method.
    volatility: float

    @property
    def var_share(self) -> float:
        """The VaR as a share of the portfolio's value (a log loss ``x`` is ``1 - e^-x``)."""
        return 1.0 - math.exp(-self.var)

    @property
    def es_share(self) -> float:
        return 1.0 - math.exp(-self.es)

    @property
    def horizon_method(self) -> str:
        return "1-day forecast" if self.horizon_days == 1 else SQUARE_ROOT_OF_TIME


def checked_weights(weights: np.ndarray, assets: int) -> np.ndarray:
    """Value weights as floats: one per asset, none negative, summing to 1 (a portfolio of
    holdings, not of short positions)."""
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (assets,):
        raise ValueError(f"{weights.size} weights for {assets} assets")
    if np.any(weights < 0) or not math.isclose(float(weights.sum()), 1.0, abs_tol=1e-9):
        raise ValueError("value weights must be non-negative and sum to 1")
    return weights


def portfolio_returns(returns: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The daily log return of a portfolio held at ``weights`` each day: the log of the
    value-weighted gross returns."""
    weights = checked_weights(weights, returns.shape[0])
    if returns.shape[0] == 1:
        # no exp/log round trip: one holding's figures are exactly the engine's for the asset
        return np.asarray(returns[0], dtype=float)
    return np.asarray(np.log(weights @ np.exp(returns)))


def historical_risk(returns: np.ndarray, weights: np.ndarray, level: float) -> TailRisk:
    """Tomorrow's VaR and ES of the portfolio by filtered historical simulation (``HISTORICAL``)."""
    forecast = tail_forecast(portfolio_returns(returns, weights), level)
    return TailRisk(HISTORICAL, level, 1, forecast.var, forecast.es, forecast.volatility)


def ewma_covariance(returns: np.ndarray) -> np.ndarray:
    """Tomorrow's RiskMetrics covariance of the assets: ``S[t+1] = LAMBDA S[t] + (1 - LAMBDA)
    r[t] r[t]'``, seeded, as tail.py's variance, with the mean outer product of the first
    ``SEED_RETURNS`` days. Closed form of the recursion: the seed decays by ``LAMBDA**n``."""
    days = returns.shape[1]
    if days == 0:
        raise ValueError("an EWMA covariance needs at least one return")
    head = returns[:, :SEED_RETURNS]
    seed = head @ head.T / head.shape[1]
    decay = (1.0 - LAMBDA) * LAMBDA ** np.arange(days - 1, -1, -1, dtype=float)
    return np.asarray(LAMBDA**days * seed + (returns * decay) @ returns.T)


def parametric_risk(
    returns: np.ndarray, weights: np.ndarray, level: float, student_t: bool = False
) -> TailRisk:
    """Tomorrow's delta-normal VaR and ES from the EWMA covariance, with a normal or a
    unit-variance Student-t quantile (``PARAMETRIC_NORMAL`` / ``PARAMETRIC_T``)."""
    weights = checked_weights(weights, returns.shape[0])
    sigma = math.sqrt(max(0.0, float(weights @ ewma_covariance(returns) @ weights)))
    quantile, shortfall = student_t_tail(level, PRIOR_DOF) if student_t else normal_tail(level)
    method = PARAMETRIC_T if student_t else PARAMETRIC_NORMAL
    return TailRisk(method, level, 1, sigma * quantile, sigma * shortfall, sigma)


@lru_cache(maxsize=16)
def normal_tail(level: float) -> tuple[float, float]:
    """Loss quantile and expected shortfall at ``level`` of a standard normal."""
    from scipy import stats  # imported here for the reason given in tail.ewma_variance

    quantile = float(stats.norm.ppf(level))
    return quantile, float(stats.norm.pdf(quantile)) / (1.0 - level)


def over_horizon(risk: TailRisk, horizon_days: int) -> TailRisk:
    """The ``horizon_days`` figure by the square root of time (module docstring)."""
    if risk.horizon_days != 1:
        raise ValueError("scale 1-day figures only")
    root = math.sqrt(horizon_days)
    return replace(risk, horizon_days=horizon_days, var=risk.var * root, es=risk.es * root)


def tail_risks(joint: JointReturns, weights: np.ndarray) -> list[TailRisk]:
    """Every method at every level (``LEVELS``) and horizon (``HORIZONS``). Raises
    :class:`ShortHistoryError` under ``MIN_RETURNS`` joint returns, as the engine's market
    sub-score does for one asset."""
    returns = joint.returns
    if returns.shape[1] < MIN_RETURNS:
        raise ShortHistoryError(returns.shape[1], joint.closes)
    daily = [
        risk
        for level in LEVELS
        for risk in (
            historical_risk(returns, weights, level),
            parametric_risk(returns, weights, level),
            parametric_risk(returns, weights, level, student_t=True),
        )
    ]
    return [over_horizon(r, h) if h != 1 else r for h in HORIZONS for r in daily]


def correlation(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation of the assets' daily returns over the whole window (an asset that
    never moved is uncorrelated with the others, 1 with itself). Used for 30-day aggregation,
    where the window's average co-movement is a better guess than the last weeks' EWMA."""
    assets = returns.shape[0]
    if returns.shape[1] < 2:
        raise ValueError("a correlation needs at least two returns")
    centred = returns - returns.mean(axis=1, keepdims=True)
    scale = np.sqrt((centred**2).sum(axis=1))
    moving = scale > 0
    out = np.eye(assets)
    inner = centred[moving] @ centred[moving].T / np.outer(scale[moving], scale[moving])
    out[np.ix_(moving, moving)] = np.clip(inner, -1.0, 1.0)
    return np.asarray(out)
