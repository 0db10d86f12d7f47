"""Forecasters: fit on a daily price history, predict the next ``horizon`` days with 80% and
95% prediction intervals.

* :class:`AutoArima` -- ARIMA on log prices via statsmodels: ``d`` by a fixed rule
  (:func:`level_differences`: 1 for a price, 0 only for a pegged asset, which reverts to its
  peg), ``(p, q)`` in 0..2 by AICc, a drift term when differenced. Intervals are the
  quantiles of its h-step errors simulated from its own volatility-standardized residuals
  (:func:`simulated_errors`, filtered historical simulation: fat tails and volatility
  clustering kept, the drift's estimation error added), exponentiated back to prices (so they
  stay positive and skew upward). docs/forecasting.md explains the method and what it
  replaced.
* :class:`NaiveForecaster` -- the random walk (last value), intervals from the empirical
  quantiles of past h-step changes: the baseline every model must beat.
* A history that does not move (a $1.00 fund token) is forecast flat with zero-width intervals
  by both, instead of handing a degenerate series to an optimiser.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

LEVELS = (0.80, 0.95)
#: Daily log returns below this spread make a series "constant" (e.g. a $1.00 NAV).
CONSTANT_STD = 1e-7


@dataclass(frozen=True, slots=True)
class Forecast:
    """Point forecasts and interval bounds for steps 1..horizon (arrays of that length)."""

    mean: np.ndarray
    lower: dict[float, np.ndarray]
    upper: dict[float, np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)


class Forecaster(ABC):
    name: str

    @abstractmethod
    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        """Fit on ``history`` (daily prices, oldest first, all > 0) and predict ``horizon``."""

    def frozen(self, history: np.ndarray) -> Forecaster:
        """A forecaster that keeps what this one learns from ``history`` (a chosen order and
        its coefficients, say) for later, longer histories instead of learning it again; by
        default nothing is kept and every forecast learns afresh."""
        return self


def is_constant(history: np.ndarray) -> bool:
    returns = np.diff(np.log(history))
    return returns.size == 0 or float(np.std(returns)) < CONSTANT_STD


def flat_forecast(history: np.ndarray, horizon: int) -> Forecast:
    last = np.full(horizon, float(history[-1]))
    return Forecast(
        last,
        {level: last.copy() for level in LEVELS},
        {level: last.copy() for level in LEVELS},
        {"model": "constant"},
    )


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


def level_differences(pegged: bool) -> int:
    """The deliberate differencing rule: a price is a random walk in log levels (d = 1; a
    unit-root test on a few hundred days mistakes a long swing for mean reversion, and a d = 0
    model then forecasts a pull back to the window's average price), unless the asset is
    pegged (a stablecoin), whose level reverts to its peg by design (d = 0)."""
    return 0 if pegged else 1


class NaiveForecaster(Forecaster):
    name = "naive"

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        if is_constant(history):
            return flat_forecast(history, horizon)
        logs = np.log(history)
        mean = np.full(horizon, float(history[-1]))
        lower: dict[float, np.ndarray] = {}
        upper: dict[float, np.ndarray] = {}
        for level in LEVELS:
            tail = (1 - level) / 2
            low, high = np.empty(horizon), np.empty(horizon)
            for step in range(1, horizon + 1):
                changes = logs[step:] - logs[:-step] if logs.size > step else np.array([0.0])
                low[step - 1], high[step - 1] = np.quantile(changes, [tail, 1 - tail])
            lower[level], upper[level] = history[-1] * np.exp(low), history[-1] * np.exp(high)
        return Forecast(mean, lower, upper, {"model": "random walk"})


class AutoArima(Forecaster):
    """ARIMA(p, d, q) on log prices with the order chosen per series (see the module doc)."""

    name = "arima"

    def __init__(
        self,
        max_p: int = 2,
        max_q: int = 2,
        pegged: bool = False,
        order: tuple[int, int, int] | None = None,
        coefficients: np.ndarray | None = None,
    ) -> None:
        self.max_p = max_p
        self.max_q = max_q
        self.pegged = pegged
        #: A fixed order skips selection (the daily run keeps the weekly run's order).
        self.order = order
        #: Fixed coefficients (with ``order``) skip estimation too: the model is only run
        #: over the new history (see :meth:`frozen`).
        self.coefficients = coefficients

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        if is_constant(history):
            return flat_forecast(history, horizon)
        fitted, order = self.fitted(np.log(history))
        prediction = fitted.get_forecast(horizon)
        center = np.asarray(prediction.predicted_mean)
        residuals = np.asarray(fitted.resid)[order[1] + max(order[0], order[2]) :]
        psi = psi_weights(
            np.asarray(fitted.arparams), np.asarray(fitted.maparams), order[1], horizon
        )
        spread = ewma_volatility(residuals)[-1] * np.sqrt(np.cumsum(psi**2))
        errors = simulated_errors(residuals, psi, drift=order[1] > 0)
        lower: dict[float, np.ndarray] = {}
        upper: dict[float, np.ndarray] = {}
        for level in LEVELS:
            low, high = standardized_quantiles(errors, horizon, level)
            lower[level] = np.exp(center + np.minimum(low, 0.0) * spread)
            upper[level] = np.exp(center + np.maximum(high, 0.0) * spread)
        params = {
            "model": "arima",
            "order": list(order),
            "aicc": float(fitted.aicc),
            "volatility": round(float(spread[0]), 6),
        }
        return Forecast(np.exp(center), lower, upper, params)

    def fitted(self, logs: np.ndarray) -> tuple[Any, tuple[int, int, int]]:
        """The model run over ``logs``: with fixed coefficients, else fitted with a fixed
        order, else the best order (its differencing by :func:`level_differences`)."""
        if self.order is not None and self.coefficients is not None:
            return self.model(logs, self.order).filter(self.coefficients), self.order
        if self.order is not None:
            return self.fit(logs, self.order), self.order
        return self.select(logs, level_differences(self.pegged))

    def frozen(self, history: np.ndarray) -> Forecaster:
        """This forecaster with the order and coefficients learnt from ``history`` fixed, to
        forecast from later origins without selecting or estimating again (cheap)."""
        if is_constant(history):
            return self
        fitted, order = self.fitted(np.log(history))
        return AutoArima(pegged=self.pegged, order=order, coefficients=np.asarray(fitted.params))

    def select(self, logs: np.ndarray, d: int) -> tuple[Any, tuple[int, int, int]]:
        """The fitted model with the lowest AICc over (p, q) in 0..max."""
        best: tuple[float, Any, tuple[int, int, int]] | None = None
        for p in range(self.max_p + 1):
            for q in range(self.max_q + 1):
                order = (p, d, q)
                try:
                    fitted = self.fit(logs, order)
                except (ValueError, np.linalg.LinAlgError):
                    continue
                if np.isfinite(fitted.aicc) and (best is None or fitted.aicc < best[0]):
                    best = (float(fitted.aicc), fitted, order)
        if best is None:
            raise ValueError("no ARIMA order could be fitted to this series")
        return best[1], best[2]

    @staticmethod
    def model(logs: np.ndarray, order: tuple[int, int, int]) -> Any:
        """ARIMA ``order`` with a constant (levels) or a drift (differenced)."""
        from statsmodels.tsa.arima.model import ARIMA

        return ARIMA(logs, order=order, trend="c" if order[1] == 0 else "t")

    @classmethod
    def fit(cls, logs: np.ndarray, order: tuple[int, int, int]) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short series
            # no parameter covariance: nothing here uses standard errors, and it costs
            return cls.model(logs, order).fit(cov_type="none")
