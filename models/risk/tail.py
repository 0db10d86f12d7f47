"""One-day value at risk and expected shortfall by filtered historical simulation (FHS).

Method (Barone-Adesi et al. 1999; Hull and White 1998), all on daily log returns, mean zero:

1. **Volatility**: the RiskMetrics EWMA
   ``e2[t+1] = LAMBDA * e2[t] + (1 - LAMBDA) * w[t] * r[t]**2`` (half-life about 11 days),
   seeded with the mean square of the first ``SEED_RETURNS`` returns, with two amendments from
   the GARCH literature: a loss day's square counts ``1 + ASYMMETRY`` times, a gain day's
   ``1 - ASYMMETRY`` times (``w[t]``: the leverage effect of GJR-GARCH -- volatility rises more
   after falls than after rises), and the forecast ``s2`` is ``e2`` pulled toward the history's
   long-run mean square by ``LONG_RUN_WEIGHT`` (GARCH's mean reversion: after a very calm spell
   the next shock is not priced as impossible). ``s2[t]`` uses only returns before day ``t``,
   so it is a forecast.
2. **Standardised returns** ``z[t] = r[t] / s[t]``: yesterday's market in today's units. They
   are close to identically distributed even though raw returns cluster in volatility, which is
   why a quantile of them is a fair estimate where a quantile of raw returns is not.
3. **Tail of z**: the empirical loss quantile of ``z`` at the level and the mean of ``z``
   beyond it, shrunk toward a standardised Student-t prior (``PRIOR_DOF`` degrees of freedom,
   the fat tails typical of daily returns) with weight ``n / (n + PRIOR_STRENGTH)``: a long
   history speaks for itself, a short one (a new token, the 90-day demo lake) leans on the
   prior instead of on its two worst days.
4. **Forecast**: ``VaR = s[next] * q``, ``ES = s[next] * es_z``, floored at zero (an asset that
   only accrues -- a constant-NAV fund token -- has no loss quantile).

No parameter is fitted, so the result is deterministic, needs only ``MIN_RETURNS`` returns and
costs microseconds. Backtests on three decades of real series: ``bench/var_backtest.py``,
results in docs/benchmarks.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

#: RiskMetrics decay of the EWMA variance (daily data).
LAMBDA = 0.94
#: Extra weight of a loss day's squared return (and less for a gain day's) in the EWMA.
ASYMMETRY = 0.5
#: Share of the variance forecast that is the long-run mean square of the history.
LONG_RUN_WEIGHT = 0.1
#: Returns whose mean square seeds the EWMA variance.
SEED_RETURNS = 20
#: Student-t degrees of freedom of the prior for standardised returns.
PRIOR_DOF = 5.0
#: How many observations the prior is worth: with ``n`` standardised returns the empirical tail
#: gets weight ``n / (n + PRIOR_STRENGTH)``.
PRIOR_STRENGTH = 100.0


@dataclass(frozen=True, slots=True)
class TailForecast:
    """Tomorrow's loss forecast at one confidence ``level`` (losses positive, log-return units)."""

    level: float
    var: float
    es: float
    #: EWMA volatility forecast for tomorrow (daily).
    volatility: float
    #: Weight of the empirical tail against the Student-t prior.
    empirical_weight: float


def ewma_variance(returns: np.ndarray) -> np.ndarray:
    """The variance forecast of each day and of the next: ``len(returns) + 1`` values, the
    first being the seed. Day ``t``'s forecast uses only returns before ``t``."""
    if returns.size == 0:
        raise ValueError("an EWMA variance needs at least one return")
    squares = returns**2
    seed = float(squares[:SEED_RETURNS].mean())
    weighted = squares * np.where(returns < 0, 1.0 + ASYMMETRY, 1.0 - ASYMMETRY)
    # Imported here: scipy.signal costs seconds of import, and every `rwa` process imports this
    # module through the steps, most of them never scoring risk.
    from scipy import signal

    # e2[t+1] = LAMBDA * e2[t] + (1 - LAMBDA) * w[t] r[t]^2, e2[0] = seed, as one linear filter
    after, _ = signal.lfilter([1.0 - LAMBDA], [1.0, -LAMBDA], weighted, zi=[LAMBDA * seed])
    ewma = np.concatenate([[seed], after])
    long_run = np.concatenate([[seed], np.cumsum(squares) / np.arange(1, squares.size + 1)])
    return np.asarray((1.0 - LONG_RUN_WEIGHT) * ewma + LONG_RUN_WEIGHT * long_run)


def standardised_returns(returns: np.ndarray) -> tuple[np.ndarray, float]:
    """The returns in units of their EWMA volatility forecast (days with a zero forecast
    left out) and the volatility forecast for the next day."""
    variance = ewma_variance(returns)
    scale = np.sqrt(variance)
    known = scale[:-1] > 0
    return returns[known] / scale[:-1][known], float(scale[-1])


def tail_forecast(returns: np.ndarray, level: float) -> TailForecast:
    """Tomorrow's VaR and ES at ``level`` (e.g. 0.99) from the daily log ``returns`` (oldest
    first)."""
    z, volatility = standardised_returns(returns)
    losses = -z
    weight = losses.size / (losses.size + PRIOR_STRENGTH)
    prior_q, prior_es = student_t_tail(level, PRIOR_DOF)
    if losses.size:
        q = float(np.quantile(losses, level))
        es = float(losses[losses >= q].mean())
    else:
        q, es = prior_q, prior_es
    q = weight * q + (1.0 - weight) * prior_q
    es = max(q, weight * es + (1.0 - weight) * prior_es)
    return TailForecast(
        level=level,
        var=max(0.0, volatility * q),
        es=max(0.0, volatility * es),
        volatility=volatility,
        empirical_weight=weight,
    )


@lru_cache(maxsize=64)
def student_t_tail(level: float, dof: float) -> tuple[float, float]:
    """Loss quantile and expected shortfall at ``level`` of a Student-t with ``dof`` degrees of
    freedom scaled to unit variance."""
    from scipy import stats  # imported here for the reason given in ewma_variance

    unit = math.sqrt((dof - 2.0) / dof)
    quantile = float(stats.t.ppf(level, dof))
    shortfall = (
        float(stats.t.pdf(quantile, dof)) / (1.0 - level) * (dof + quantile**2) / (dof - 1.0)
    )
    return quantile * unit, shortfall * unit
