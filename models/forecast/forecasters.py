"""Forecasters: fit on a daily price history, predict the next ``horizon`` days with 80% and
95% prediction intervals.

* :class:`AutoArima` -- ARIMA on log prices via statsmodels: ``d`` by a fixed rule
  (:func:`level_differences`: 1 for a price, 0 only for a pegged asset, which reverts to its
  peg), ``(p, q)`` in 0..2 by BIC (ranked by cheap CSS fits, the best three fitted exactly:
  :mod:`models.forecast.selection`), a drift term when differenced, kept in the share its
  Akaike weight against no drift gives it (:func:`~models.forecast.selection.drift_weight`).
  Intervals by filtered historical simulation of its own residuals
  (:func:`~models.forecast.intervals.simulated_intervals`).
* :class:`NaiveForecaster` -- the random walk (last value), intervals from the empirical
  quantiles of past h-step changes: the baseline every model must beat.
* A history that does not move (a $1.00 fund token) is forecast flat with zero-width intervals
  by both, instead of handing a degenerate series to an optimiser.

Every interval is computed in :mod:`models.forecast.intervals`; the LSTM and the ensemble are in
:mod:`models.forecast.neural`.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.forecast.intervals import (
    Bounds,
    empirical_intervals,
    flat_intervals,
    psi_weights,
    simulated_intervals,
)
from models.forecast.selection import Criterion, css_fit, css_ranking, drift_weight

#: Exact ML fits per order selection, of the best orders by CSS (one is the Hyndman-Khandakar
#: approximation; three found the exact optimum more often at little cost), and the criterion
#: that ranks them: BIC, whose heavier penalty keeps the near-random-walk orders that forecast
#: best; AICc's richer orders forecast 1-3% worse (docs/benchmarks.md, session 10).
EXACT_FITS = 3
CRITERION: Criterion = "bic"
#: Daily log returns below this spread make a series "constant" (e.g. a $1.00 NAV).
CONSTANT_STD = 1e-7


@dataclass(frozen=True, slots=True)
class Forecast:
    """Point forecasts and interval bounds for steps 1..horizon (arrays of that length)."""

    mean: np.ndarray
    lower: Bounds
    upper: Bounds
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
    last = float(history[-1])
    lower, upper = flat_intervals(last, horizon)
    return Forecast(np.full(horizon, last), lower, upper, {"model": "constant"})


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
        mean = np.full(horizon, float(history[-1]))
        lower, upper = empirical_intervals(history, horizon)
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
        exact_fits: int = EXACT_FITS,
        criterion: Criterion = CRITERION,
    ) -> None:
        self.max_p = max_p
        self.max_q = max_q
        self.pegged = pegged
        #: A fixed order skips selection (the daily run keeps the weekly run's order).
        self.order = order
        #: Fixed coefficients (with ``order``) skip estimation too: the model is only run
        #: over the new history (see :meth:`frozen`).
        self.coefficients = coefficients
        #: How many of the best CSS-ranked orders get an exact fit (see :meth:`select`).
        self.exact_fits = exact_fits
        self.criterion: Criterion = criterion

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
        lower, upper, spread = simulated_intervals(center, residuals, psi, drift=order[1] > 0)
        params = {
            "model": "arima",
            "order": list(order),
            "aicc": float(fitted.aicc),
            "bic": float(fitted.bic),
            "volatility": round(float(spread[0]), 6),
        }
        return Forecast(np.exp(center), lower, upper, params)

    def fitted(self, logs: np.ndarray) -> tuple[Any, tuple[int, int, int]]:
        """The model run over ``logs``: with fixed coefficients, else fitted with a fixed
        order, else the best order (its differencing by :func:`level_differences`)."""
        if self.order is not None and self.coefficients is not None:
            return self.model(logs, self.order).filter(self.coefficients), self.order
        if self.order is not None:
            # started from its CSS estimates, as when selected: the same data and order give
            # the same coefficients whether the order was selected or kept
            start = css_fit(logs, self.order, self.max_p)
            fitted = self.fit(logs, self.order, start.params if start.admissible else None)
            return self.averaged(logs, fitted, self.order), self.order
        fitted, order = self.select(logs, level_differences(self.pegged))
        return self.averaged(logs, fitted, order), order

    @classmethod
    def averaged(cls, logs: np.ndarray, fitted: Any, order: tuple[int, int, int]) -> Any:
        """``fitted`` with its drift (a differenced model's first parameter) scaled by
        :func:`~models.forecast.selection.drift_weight`, run over ``logs``: the average of
        the model with and without its drift; a level model's constant is kept whole."""
        if order[1] == 0:
            return fitted
        params = np.array(fitted.params, dtype=float)
        params[0] *= drift_weight(logs, order[1])
        return cls.model(logs, order).filter(params)

    def frozen(self, history: np.ndarray) -> Forecaster:
        """This forecaster with the order and coefficients learnt from ``history`` fixed, to
        forecast from later origins without selecting or estimating again (cheap)."""
        if is_constant(history):
            return self
        fitted, order = self.fitted(np.log(history))
        return AutoArima(pegged=self.pegged, order=order, coefficients=np.asarray(fitted.params))

    def select(self, logs: np.ndarray, d: int) -> tuple[Any, tuple[int, int, int]]:
        """The exactly fitted model of the best order: every (p, q) in 0..max ranked by CSS
        (:mod:`models.forecast.selection`) on :attr:`criterion`, the first :attr:`exact_fits`
        of the ranking fitted by exact ML (started from their CSS estimates), the lowest
        exact criterion kept; an order whose exact fit fails gives way to the next."""
        best: tuple[float, Any, tuple[int, int, int]] | None = None
        tried = 0
        ranking = css_ranking(logs, d, self.max_p, self.max_q, self.criterion)
        for candidate in ranking:
            if tried >= self.exact_fits:
                break
            start = candidate.params if candidate.admissible else None
            try:
                fitted = self.fit(logs, candidate.order, start)
            except (ValueError, np.linalg.LinAlgError):
                continue
            score = float(getattr(fitted, self.criterion))
            if not np.isfinite(score):
                continue
            tried += 1
            if best is None or score < best[0]:
                best = (score, fitted, candidate.order)
        if best is None:
            raise ValueError("no ARIMA order could be fitted to this series")
        return best[1], best[2]

    @staticmethod
    def model(logs: np.ndarray, order: tuple[int, int, int]) -> Any:
        """ARIMA ``order`` with a constant (levels) or a drift (differenced)."""
        from statsmodels.tsa.arima.model import ARIMA

        return ARIMA(logs, order=order, trend="c" if order[1] == 0 else "t")

    @classmethod
    def fit(
        cls, logs: np.ndarray, order: tuple[int, int, int], start: np.ndarray | None = None
    ) -> Any:
        """Exact ML estimates of ``order`` (from ``start``, else statsmodels' own start)."""
        # Built before the filter: statsmodels' first import adds an "always" filter for its
        # own warnings, which inside the block would outrank "ignore" (and print them).
        model = cls.model(logs, order)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short series
            # no parameter covariance: nothing here uses standard errors, and it costs
            return model.fit(start_params=start, cov_type="none")
