"""Every forecast interval computation: the 80% and 95% bands of each forecaster.

* ARIMA (:func:`simulated_intervals`): filtered historical simulation. The quantiles of the
  model's h-step errors simulated from its own volatility-standardized residuals
  (:func:`simulated_errors`: fat tails and volatility clustering kept, the drift's estimation
  error added), around the log-price forecast and exponentiated back to prices (so they stay
  positive and skew upward). docs/forecasting.md explains the method and what it replaced.
* Random walk (:func:`empirical_intervals`): the empirical quantiles of past h-step changes.
* LSTM (:func:`quantile_intervals`): the network predicts the cumulative log return at
  :data:`QUANTILES`; the bands are those quantile columns.
* Ensemble (:func:`averaged_intervals`): the mean of the members' bounds in log space
  (quantile averaging).
* A history that does not move: zero-width bands (:func:`flat_intervals`).

Each returns ``(lower, upper)``: level -> bound per step 1..horizon, for every level of
:data:`LEVELS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

LEVELS = (0.80, 0.95)
#: Interval bounds per level: level -> one bound per step 1..horizon.
Bounds = dict[float, np.ndarray]

#: RiskMetrics' decay for the exponentially weighted variance of recent residuals.
EWMA_DECAY = 0.94
#: Residuals whose mean square seeds the EWMA variance (origins before it are not used).
EWMA_SEED = 20
#: The volatility never falls below this share of the window's residual RMS: a price stuck for
#: weeks (a rarely traded token) would otherwise give zero-width intervals.
VOLATILITY_FLOOR = 0.2
#: Below this many standardized residuals the band's quantiles are Gaussian (too few to
#: estimate a 2.5% tail from).
MIN_CALIBRATION_ERRORS = 100
#: Simulated paths per forecast: 50 beyond each 2.5% quantile.
SIMULATED_PATHS = 2000

#: Quantiles the LSTM predicts, and the columns of each level's bounds among them.
QUANTILES = (0.025, 0.10, 0.50, 0.90, 0.975)
QUANTILE_BOUNDS = {0.80: (1, 3), 0.95: (0, 4)}
MEDIAN_COLUMN = 2


def flat_intervals(last: float, horizon: int) -> tuple[Bounds, Bounds]:
    """Zero-width bands at ``last``: a history that does not move (a $1.00 NAV)."""
    flat = np.full(horizon, last)
    return {level: flat.copy() for level in LEVELS}, {level: flat.copy() for level in LEVELS}


def empirical_intervals(history: np.ndarray, horizon: int) -> tuple[Bounds, Bounds]:
    """The random walk's bands: the empirical quantiles of the history's past h-step log
    changes, applied to its last value."""
    logs = np.log(history)
    lower: Bounds = {}
    upper: Bounds = {}
    for level in LEVELS:
        tail = (1 - level) / 2
        low, high = np.empty(horizon), np.empty(horizon)
        for step in range(1, horizon + 1):
            changes = logs[step:] - logs[:-step] if logs.size > step else np.array([0.0])
            low[step - 1], high[step - 1] = np.quantile(changes, [tail, 1 - tail])
        lower[level], upper[level] = history[-1] * np.exp(low), history[-1] * np.exp(high)
    return lower, upper


def ewma_volatility(residuals: np.ndarray) -> np.ndarray:
    """``out[t]``: the one-step volatility forecast made after residual ``t`` (RiskMetrics
    EWMA seeded with the first :data:`EWMA_SEED` residuals, floored at
    :data:`VOLATILITY_FLOOR` times their RMS)."""
    variance = np.empty(residuals.size)
    current = float(np.mean(residuals[:EWMA_SEED] ** 2))
    for t, residual in enumerate(residuals):
        current = EWMA_DECAY * current + (1 - EWMA_DECAY) * float(residual) ** 2
        variance[t] = current
    floor = VOLATILITY_FLOOR * float(np.sqrt(np.mean(residuals**2)))
    return np.maximum(np.sqrt(variance), floor)


def psi_weights(ar: np.ndarray, ma: np.ndarray, differences: int, horizon: int) -> np.ndarray:
    """The first ``horizon`` weights of the model's MA(infinity) form, differencing included:
    the h-step forecast error is ``sum(psi[j] * e[t + h - j] for j < h)``."""
    from statsmodels.tsa.arima_process import arma2ma

    ar_polynomial = np.r_[1.0, -ar]
    for _ in range(differences):
        ar_polynomial = np.convolve(ar_polynomial, [1.0, -1.0])
    return np.asarray(arma2ma(ar_polynomial, np.r_[1.0, ma], lags=horizon), dtype=float)


def simulated_errors(
    residuals: np.ndarray, psi: np.ndarray, drift: bool = False
) -> np.ndarray | None:
    """:data:`SIMULATED_PATHS` h-step forecast errors for h = 1..len(psi) (a row per path),
    each divided by today's volatility and the model's h-step spread
    ``sqrt(sum(psi[:h]**2))`` (so a Gaussian model gives -z, +z); None with fewer than
    :data:`MIN_CALIBRATION_ERRORS` residuals.

    Filtered historical simulation (Barone-Adesi et al., 1999): the one-step residuals divided
    by the volatility known before each are drawn with replacement, rescaled by a volatility
    that starts at today's and follows the same EWMA recursion along each path, and summed
    with the model's psi weights. So the fat tails are the data's, a turbulent day's band is
    wide and a calm day's narrow, and how volatility may grow over the horizon is simulated.
    Every one of the window's residuals informs every horizon: empirical quantiles of the
    window's own 30-step errors came from only about window / 30 independent paths, too few
    to place a 2.5% tail, and their bands were too narrow.

    With ``drift`` (a differenced model with an estimated drift), each path also draws the
    drift's estimation error, about N(0, sigma^2 / n) per day and so h times that at h days:
    the random walk with drift's sigma * sqrt(h * (1 + h / n)) (Hyndman & Athanasopoulos,
    FPP 5.5). In-sample residuals cannot show it, and at 30 days from 500 it is a sixth of
    the variance."""
    if residuals.size - EWMA_SEED < MIN_CALIBRATION_ERRORS:
        return None
    volatility = ewma_volatility(residuals)
    standardized = residuals[EWMA_SEED:] / volatility[EWMA_SEED - 1 : -1]
    # a fixed seed: the same history always gives the same band
    draws = np.random.default_rng(0).choice(standardized, (SIMULATED_PATHS, psi.size))
    floor = VOLATILITY_FLOOR * float(np.sqrt(np.mean(residuals**2)))
    variance = np.full(SIMULATED_PATHS, volatility[-1] ** 2)
    shocks = np.empty_like(draws)
    for step in range(psi.size):
        shocks[:, step] = np.maximum(np.sqrt(variance), floor) * draws[:, step]
        variance = EWMA_DECAY * variance + (1 - EWMA_DECAY) * shocks[:, step] ** 2
    # errors[:, h - 1] = sum(psi[j] * shocks[:, h - 1 - j] for j < h)
    weights = np.zeros((psi.size, psi.size))
    for h in range(psi.size):
        weights[: h + 1, h] = psi[h::-1]
    errors: np.ndarray = shocks @ weights
    if drift:
        spread = float(np.std(residuals)) / np.sqrt(residuals.size)
        drift_errors = np.random.default_rng(1).normal(0.0, spread, SIMULATED_PATHS)
        errors += np.outer(drift_errors, np.arange(1, psi.size + 1))
    errors /= volatility[-1] * np.sqrt(np.cumsum(psi**2))
    return errors


def standardized_quantiles(
    errors: np.ndarray | None, horizon: int, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper ``level`` quantiles per horizon of the standardized ``errors`` of
    :func:`simulated_errors`, Gaussian where there are none (too few residuals to estimate a
    2.5% tail from)."""
    tail = (1 - level) / 2
    if errors is None:
        gaussian = NormalDist().inv_cdf(1 - tail)
        return np.full(horizon, -gaussian), np.full(horizon, gaussian)
    lower, upper = np.quantile(errors, [tail, 1 - tail], axis=0)
    return lower, upper


def simulated_intervals(
    center: np.ndarray, residuals: np.ndarray, psi: np.ndarray, drift: bool
) -> tuple[Bounds, Bounds, np.ndarray]:
    """An ARIMA model's bands around its log-price forecast ``center`` (steps 1..horizon) from
    its one-step ``residuals`` and ``psi`` weights, in prices; also the model's h-step spread
    (today's volatility times ``sqrt(sum(psi[:h]**2))``)."""
    horizon = center.size
    spread = ewma_volatility(residuals)[-1] * np.sqrt(np.cumsum(psi**2))
    errors = simulated_errors(residuals, psi, drift=drift)
    lower: Bounds = {}
    upper: Bounds = {}
    for level in LEVELS:
        low, high = standardized_quantiles(errors, horizon, level)
        lower[level] = np.exp(center + np.minimum(low, 0.0) * spread)
        upper[level] = np.exp(center + np.maximum(high, 0.0) * spread)
    return lower, upper, spread


def quantile_intervals(last: float, quantiles: np.ndarray) -> tuple[Bounds, Bounds]:
    """The LSTM's bands: ``quantiles`` (horizon x :data:`QUANTILES`, cumulative log returns,
    sorted per row) applied to the last price."""
    lower = {level: last * np.exp(quantiles[:, lo]) for level, (lo, _) in QUANTILE_BOUNDS.items()}
    upper = {level: last * np.exp(quantiles[:, hi]) for level, (_, hi) in QUANTILE_BOUNDS.items()}
    return lower, upper


def log_mean(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """The element-wise mean of positive arrays in log space (a geometric mean)."""
    mean: np.ndarray = np.exp(np.mean([np.log(a) for a in arrays], axis=0))
    return mean


def averaged_intervals(lowers: Sequence[Bounds], uppers: Sequence[Bounds]) -> tuple[Bounds, Bounds]:
    """An ensemble's bands: each bound the log-space mean of the members' (quantile
    averaging)."""
    return (
        {level: log_mean([lower[level] for lower in lowers]) for level in LEVELS},
        {level: log_mean([upper[level] for upper in uppers]) for level in LEVELS},
    )
