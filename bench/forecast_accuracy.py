"""Benchmark: 7- and 30-day forecast accuracy and interval coverage on real daily series.

Rolling-origin evaluation (past data only at each origin) on three real daily price series that
ship inside PyPI packages -- the S&P 500 and NASDAQ closes of ``arch.data`` (1999-2018) and
Microsoft's close from ``pmdarima`` (1986-2017) -- of, on log prices, in the same run:

* **ours**: ``models.forecast.models.AutoArima`` (d = 1, AICc-chosen p/q, drift; intervals from
  the volatility-scaled empirical quantiles of its own h-step errors) -- and, with ``--lstm``,
  the quantile LSTM and the ensemble;
* **naive**: the random walk with empirical-quantile intervals (the MASE baseline);
* **statsforecast AutoARIMA**: Nixtla's auto.arima port, a strong peer.

Each origin's 30-day forecast is scored over its first 7 days and over all 30. Prints per
series, horizon and model: MASE (scaled by the in-sample 1-day naive error), sMAPE, 80%/95%
interval coverage (share of the realised closes inside), and fit+forecast time per origin.
Run BLAS single-threaded: on a shared 2-core machine its threads only fight (statsmodels fits
ran about 10x slower under load without it). Usage:
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/forecast_accuracy.py \\
        [--origins 60] [--step 5] [--train 500] [--lstm]
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

HORIZONS = (7, 30)


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
) -> dict[int, dict[str, float]]:
    """Per horizon: mean MASE, sMAPE, 80%/95% coverage over the origins, and s per forecast."""
    longest = max(HORIZONS)
    scores: dict[int, dict[str, list[float]]] = {h: {} for h in HORIZONS}
    seconds = []
    last = values.size - longest
    for origin in range(last - (origins - 1) * step, last + 1, step):
        past = values[max(0, origin - train) : origin]
        future = values[origin : origin + longest]
        started = time.perf_counter()
        result = make().forecast(past, longest)
        seconds.append(time.perf_counter() - started)
        for h in HORIZONS:
            mine = scores[h]
            mine.setdefault("mase", []).append(metrics.mase(future[:h], result.mean[:h], past))
            mine.setdefault("smape", []).append(metrics.smape(future[:h], result.mean[:h]))
            for level in LEVELS:
                inside = metrics.coverage(
                    future[:h], result.lower[level][:h], result.upper[level][:h]
                )
                mine.setdefault(f"cov{int(level * 100)}", []).append(inside)
    return {
        h: {name: float(np.mean(per_origin)) for name, per_origin in scores[h].items()}
        | {"seconds": float(np.mean(seconds))}
        for h in HORIZONS
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
        f"horizons {HORIZONS} days (the first 7 days of each 30-day forecast, and all 30)"
    )
    StatsforecastAutoArima().forecast(np.exp(np.linspace(0, 1, 60)), 7)  # JIT warm-up
    for name, values in series().items():
        print(f"\n{name}: {values.size:,} days")
        results: dict[str, dict[int, dict[str, float]]] = {}
        for label, make in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results[label] = evaluate(make, values, args.origins, args.step, args.train)
        for h in HORIZONS:
            header = f"{'MASE':>6} {'sMAPE':>6} {'cov80':>6} {'cov95':>6} {'s/fit':>7}"
            print(f"  {h:>2} days: {'model':<24} {header}")
            for label, by_horizon in results.items():
                r = by_horizon[h]
                print(
                    f"  {'':9}{label:<24} {r['mase']:6.3f} {r['smape']:6.2f} {r['cov80']:6.1%} "
                    f"{r['cov95']:6.1%} {r['seconds']:7.3f}"
                )
        print("  (targets: cov80 78-84%, cov95 93-97%; MASE below the naive forecast's is better)")


if __name__ == "__main__":
    main()
