"""Forecasters: fit on a daily price history, predict the next ``horizon`` days with 80% and
95% prediction intervals.

* :class:`AutoArima` -- ARIMA on log prices via statsmodels with automatic order selection:
  ``d`` from an ADF test (levels for pegged assets, which revert to their peg), ``(p, q)`` in
  0..2 by AICc, a drift term when differenced. Intervals come from the model's forecast
  variance, rescaled by the current EWMA volatility of its residuals (volatility clusters; the
  model's variance is one average over the window), and exponentiated back to prices (so they
  stay positive and skew upward).
* :class:`NaiveForecaster` -- the random walk (last value), intervals from the empirical
  quantiles of past h-step changes: the baseline every model must beat.
* A history that does not move (a $1.00 fund token) is forecast flat with zero-width intervals
  by both, instead of handing a degenerate series to an optimiser.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
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
VOLATILITY_SCALE_BOUNDS = (0.5, 3.0)


def volatility_scale(residuals: np.ndarray, sigma2: float) -> float:
    """How much wider than the model's constant innovation variance the intervals should be
    now: the ratio of the EWMA volatility of recent residuals to the fitted sigma (bounded).
    ARIMA assumes one variance for the whole window; markets cluster their volatility, so a
    forecast made in a turbulent week needs wider bands and one made in a calm week narrower."""
    if residuals.size < 20 or sigma2 <= 0:
        return 1.0
    variance = float(np.mean(residuals[:20] ** 2))
    for residual in residuals[20:]:
        variance = EWMA_DECAY * variance + (1 - EWMA_DECAY) * float(residual) ** 2
    low, high = VOLATILITY_SCALE_BOUNDS
    return float(min(high, max(low, np.sqrt(variance / sigma2))))


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
    ) -> None:
        self.max_p = max_p
        self.max_q = max_q
        self.pegged = pegged
        #: A fixed order skips selection (evaluating a chosen model at many origins).
        self.order = order

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        if is_constant(history):
            return flat_forecast(history, horizon)
        logs = np.log(history)
        if self.order is not None:
            fitted, order = self.fit(logs, self.order), self.order
        else:
            d = 0 if self.pegged else self.differences(logs)
            fitted, order = self.select(logs, d)
        prediction = fitted.get_forecast(horizon)
        center = np.asarray(prediction.predicted_mean)
        mean = np.exp(center)
        scale = volatility_scale(np.asarray(fitted.resid)[order[1] :], float(fitted.params[-1]))
        lower: dict[float, np.ndarray] = {}
        upper: dict[float, np.ndarray] = {}
        for level in LEVELS:
            bounds = np.asarray(prediction.conf_int(alpha=1 - level))
            lower[level] = np.exp(center - (center - bounds[:, 0]) * scale)
            upper[level] = np.exp(center + (bounds[:, 1] - center) * scale)
        params = {
            "model": "arima",
            "order": list(order),
            "aicc": float(fitted.aicc),
            "volatility_scale": round(scale, 4),
        }
        return Forecast(mean, lower, upper, params)

    @staticmethod
    def differences(logs: np.ndarray) -> int:
        """1 unless the ADF test rejects a unit root at 5%."""
        from statsmodels.tsa.stattools import adfuller

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # its result type is changing
                p_value = adfuller(logs, autolag="AIC")[1]
        except (ValueError, np.linalg.LinAlgError):
            return 1
        return 0 if p_value < 0.05 else 1

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
    def fit(logs: np.ndarray, order: tuple[int, int, int]) -> Any:
        """ARIMA ``order`` with a constant (levels) or a drift (differenced)."""
        from statsmodels.tsa.arima.model import ARIMA

        trend = "c" if order[1] == 0 else "t"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short series
            return ARIMA(logs, order=order, trend=trend).fit()
