"""Benchmark: 7-day forecast accuracy and interval coverage on real daily series.

Rolling-origin evaluation (past data only at each origin) on three real daily price series that
ship inside PyPI packages -- the S&P 500 and NASDAQ closes of ``arch.data`` (1999-2018) and
Microsoft's close from ``pmdarima`` (1986-2017) -- of, on log prices, in the same run:

* **ours**: ``models.forecast.models.AutoArima`` (ADF-chosen differencing, AICc-chosen p/q,
  drift, Gaussian intervals) -- and, with ``--lstm``, the quantile LSTM and the ensemble;
* **naive**: the random walk with empirical-quantile intervals (the MASE baseline);
* **statsforecast AutoARIMA**: Nixtla's auto.arima port, a strong peer.

Prints per series and model: MASE (7 days, scaled by the in-sample 1-day naive error), sMAPE,
80%/95% interval coverage, and fit+forecast time per origin. Usage:
    .venv/bin/python bench/forecast_accuracy.py [--origins 60] [--step 5] [--train 500] [--lstm]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Callable

import numpy as np

from models.forecast import metrics
from models.forecast.models import LEVELS, AutoArima, Forecast, Forecaster, NaiveForecaster
from models.forecast.neural import EnsembleForecaster, LstmForecaster

HORIZON = 7


def series() -> dict[str, np.ndarray]:
    import arch.data.nasdaq
    import arch.data.sp500
    import pmdarima

    return {
        "S&P 500 (arch)": arch.data.sp500.load()["Adj Close"].to_numpy(float),
        "NASDAQ (arch)": arch.data.nasdaq.load()["Adj Close"].to_numpy(float),
        "MSFT (pmdarima)": pmdarima.datasets.load_msft()["Close"].to_numpy(float),
    }


class StatsforecastAutoArima(Forecaster):
    """statsforecast's AutoARIMA on log prices, intervals exponentiated like ours."""

    name = "statsforecast"

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        from statsforecast.models import AutoARIMA

        model = AutoARIMA(season_length=1)
        model.fit(np.log(history))
        out = model.predict(h=horizon, level=[80, 95])
        return Forecast(
            np.exp(out["mean"]),
            {level: np.exp(out[f"lo-{int(level * 100)}"]) for level in LEVELS},
            {level: np.exp(out[f"hi-{int(level * 100)}"]) for level in LEVELS},
        )


def evaluate(
    make: Callable[[], Forecaster], values: np.ndarray, origins: int, step: int, train: int
) -> dict[str, float]:
    mase, smape, seconds = [], [], []
    inside: dict[float, list[float]] = {level: [] for level in LEVELS}
    last = values.size - HORIZON
    for origin in range(last - (origins - 1) * step, last + 1, step):
        past = values[max(0, origin - train) : origin]
        future = values[origin : origin + HORIZON]
        started = time.perf_counter()
        result = make().forecast(past, HORIZON)
        seconds.append(time.perf_counter() - started)
        mase.append(metrics.mase(future, result.mean, past))
        smape.append(metrics.smape(future, result.mean))
        for level in LEVELS:
            inside[level].append(metrics.coverage(future, result.lower[level], result.upper[level]))
    return {
        "mase": float(np.mean(mase)),
        "smape": float(np.mean(smape)),
        "cov80": float(np.mean(inside[0.80])),
        "cov95": float(np.mean(inside[0.95])),
        "seconds": float(np.mean(seconds)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--origins", type=int, default=60)
    parser.add_argument("--step", type=int, default=5, help="days between origins")
    parser.add_argument("--train", type=int, default=500, help="training days per origin")
    parser.add_argument("--lstm", action="store_true", help="also the LSTM and the ensemble")
    args = parser.parse_args()

    models: dict[str, Callable[[], Forecaster]] = {
        "ours (AutoArima)": AutoArima,
        "naive": NaiveForecaster,
        "statsforecast AutoARIMA": StatsforecastAutoArima,
    }
    if args.lstm:
        models["ours (LSTM)"] = LstmForecaster
        models["ours (ensemble)"] = lambda: EnsembleForecaster([AutoArima(), LstmForecaster()])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"{args.origins} origins {args.step} days apart, {args.train} training days, "
        f"horizon {HORIZON} days"
    )
    StatsforecastAutoArima().forecast(np.exp(np.linspace(0, 1, 60)), HORIZON)  # JIT warm-up
    for name, values in series().items():
        print(f"\n{name}: {values.size:,} days")
        print(f"  {'model':<24} {'MASE':>6} {'sMAPE':>6} {'cov80':>6} {'cov95':>6} {'s/fit':>7}")
        baseline = None
        for label, make in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = evaluate(make, values, args.origins, args.step, args.train)
            if label == "naive":
                baseline = r["mase"]
            print(
                f"  {label:<24} {r['mase']:6.3f} {r['smape']:6.2f} {r['cov80']:6.1%} "
                f"{r['cov95']:6.1%} {r['seconds']:7.3f}"
            )
        if baseline:
            print(f"  (MASE of the naive forecast: {baseline:.3f}; below it is better)")


if __name__ == "__main__":
    main()
