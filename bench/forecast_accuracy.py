"""Benchmark: 7- and 30-day forecast accuracy and interval coverage on real daily series.

Rolling-origin evaluation (past data only at each origin) on three real daily price series that
ship inside PyPI packages -- the S&P 500 and NASDAQ closes of ``arch.data`` (1999-2018) and
Microsoft's close from ``pmdarima`` (1986-2017) -- of, on log prices, in the same run:

* **ours**: ``models.forecast.forecasters.AutoArima`` (d = 1, BIC-chosen p/q, the drift averaged
  with none by its Akaike weight; intervals by filtered historical simulation of its own
  residuals) -- and, with ``--lstm``,
  the quantile LSTM and the ensemble;
* **naive**: the random walk with empirical-quantile intervals (the MASE baseline);
* **statsforecast AutoARIMA**: Nixtla's auto.arima port, a strong peer (Gaussian intervals).

Origins are ``--step`` trading days apart over each series' whole history (after the first
``--train`` days), so the coverage is judged over every regime, not one year. Each origin sees
its last ``--train`` days only. As in the job (``forecasts_at_origins``), our model selects its
order and estimates its coefficients at every ``--reselect``-th origin, from that origin's
past, and runs them frozen over the next origins' windows (cheap); naive and statsforecast learn
afresh at every origin (statsforecast at every ``--sf-every``-th origin, to bound the runtime).

Each origin's 30-day forecast is scored over its first 7 days and over all 30. Per series,
horizon and model: MASE (scaled by the in-sample 1-day naive error), sMAPE and the 80%/95%
interval coverage (share of the realised closes inside) with a 90% moving-block bootstrap
interval over origins (blocks of :data:`BLOCK` origins keep overlapping horizons and volatility
regimes together), then the same pooled over the three series. Run BLAS single-threaded: on a
shared 2-core machine its threads only fight. Usage:
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/forecast_accuracy.py \\
        [--step 20] [--train 500] [--reselect 10] [--sf-every 1] [--lstm] [--quick]

Fit time: every fit of ours (order selection and estimation, at each re-selecting origin) and
of statsforecast's (``AutoARIMA.fit``, at each of its origins) is timed on the same windows in
the same run; per series and pooled the mean seconds per fit are printed with their ratio.
``--quick`` puts origins 100 days apart (about 165 in all) for iterating.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.forecast import metrics
from models.forecast.evaluation import forecasts_at_origins, origins
from models.forecast.forecasters import AutoArima, Forecast, Forecaster, NaiveForecaster
from models.forecast.intervals import LEVELS
from models.forecast.neural import EnsembleForecaster, LstmForecaster

HORIZONS = (7, 30)
#: Origins per bootstrap block (with 20-day steps, 100 trading days).
BLOCK = 5
RESAMPLES = 2000


def series() -> dict[str, np.ndarray]:
    import arch.data.nasdaq
    import arch.data.sp500
    import pmdarima

    return {
        "S&P 500 (arch)": arch.data.sp500.load()["Adj Close"].to_numpy(float),
        "NASDAQ (arch)": arch.data.nasdaq.load()["Adj Close"].to_numpy(float),
        "MSFT (pmdarima)": pmdarima.datasets.load_msft()["Close"].to_numpy(float),
    }


#: Seconds of each fit (order selection and estimation, no forecast) per model label.
FIT_SECONDS: dict[str, list[float]] = {}


class StatsforecastAutoArima(Forecaster):
    """statsforecast's AutoARIMA on log prices, intervals exponentiated like ours."""

    name = "statsforecast"

    def forecast(self, history: np.ndarray, horizon: int) -> Forecast:
        from statsforecast.models import AutoARIMA

        model = AutoARIMA(season_length=1)
        started = time.perf_counter()
        model.fit(np.log(history))
        FIT_SECONDS.setdefault(self.name, []).append(time.perf_counter() - started)
        out = model.predict(h=horizon, level=[80, 95])
        return Forecast(
            np.exp(out["mean"]),
            {level: np.exp(out[f"lo-{int(level * 100)}"]) for level in LEVELS},
            {level: np.exp(out[f"hi-{int(level * 100)}"]) for level in LEVELS},
        )


class TimedAutoArima(AutoArima):
    """Our AutoArima, each fit (order selection and estimation at a re-selecting origin)
    timed."""

    def frozen(self, history: np.ndarray) -> Forecaster:
        started = time.perf_counter()
        kept = super().frozen(history)
        FIT_SECONDS.setdefault(self.name, []).append(time.perf_counter() - started)
        return kept


def print_fit_times() -> None:
    """Mean seconds per fit of ours and statsforecast's, measured in this run, and the ratio."""
    ours, theirs = FIT_SECONDS.get(AutoArima.name, []), FIT_SECONDS.get("statsforecast", [])
    if not ours or not theirs:
        return
    mine, peer = float(np.mean(ours)), float(np.mean(theirs))
    print(
        f"  fit time per series window: ours {mine:.3f} s ({len(ours)} fits), statsforecast "
        f"AutoARIMA {peer:.3f} s ({len(theirs)} fits): ours/statsforecast {mine / peer:.2f}x"
    )


@dataclass
class Scores:
    """Per origin: MASE and sMAPE per horizon, and which of the 30 closes fell inside each
    band (a row per origin)."""

    mase: dict[int, list[float]] = field(default_factory=lambda: {h: [] for h in HORIZONS})
    smape: dict[int, list[float]] = field(default_factory=lambda: {h: [] for h in HORIZONS})
    inside: dict[float, list[np.ndarray]] = field(default_factory=lambda: {x: [] for x in LEVELS})
    seconds: float = 0.0

    def coverage(self, level: float, horizon: int) -> np.ndarray:
        """Per origin, the share of its first ``horizon`` closes inside the band."""
        share: np.ndarray = np.asarray(self.inside[level])[:, :horizon].mean(axis=1)
        return share

    def merged(self, other: Scores) -> Scores:
        return Scores(
            {h: self.mase[h] + other.mase[h] for h in HORIZONS},
            {h: self.smape[h] + other.smape[h] for h in HORIZONS},
            {x: self.inside[x] + other.inside[x] for x in LEVELS},
            self.seconds + other.seconds,
        )


def evaluate(
    make: Callable[[], Forecaster], values: np.ndarray, points: list[int], args: argparse.Namespace
) -> Scores:
    longest = max(HORIZONS)
    scores = Scores()
    started = time.perf_counter()
    forecasts = forecasts_at_origins(
        make, values, longest, points, refit_every=args.reselect, window=args.train
    )
    for origin, result in forecasts:
        past = values[max(0, origin - args.train) : origin]
        future = values[origin : origin + longest]
        for h in HORIZONS:
            scores.mase[h].append(metrics.mase(future[:h], result.mean[:h], past))
            scores.smape[h].append(metrics.smape(future[:h], result.mean[:h]))
        for level in LEVELS:
            scores.inside[level].append(
                (future >= result.lower[level]) & (future <= result.upper[level])
            )
    scores.seconds = time.perf_counter() - started
    return scores


def block_interval(values: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """90% moving-block bootstrap interval of the mean of ``values`` (in origin order)."""
    n = values.size
    block = min(BLOCK, n)
    starts = rng.integers(0, n - block + 1, size=(RESAMPLES, -(-n // block)))
    index = (starts[:, :, None] + np.arange(block)).reshape(RESAMPLES, -1)[:, :n]
    means = values[index].mean(axis=1)
    low, high = np.quantile(means, [0.05, 0.95])
    return float(low), float(high)


def report(label: str, scores: Scores, horizon: int, rng: np.random.Generator) -> str:
    cells = [
        f"{np.mean(scores.mase[horizon]):6.3f}",
        f"{np.mean(scores.smape[horizon]):6.2f}",
    ]
    for level in LEVELS:
        covered = scores.coverage(level, horizon)
        low, high = block_interval(covered, rng)
        cells.append(f"{covered.mean():6.1%} [{low:5.1%}, {high:5.1%}]")
    origins_scored = len(scores.mase[horizon])
    return f"  {'':9}{label:<24} {' '.join(cells)} {origins_scored:>5} {scores.seconds:7.1f}"


def print_table(results: dict[str, Scores], rng: np.random.Generator) -> None:
    header = (
        f"{'MASE':>6} {'sMAPE':>6} {'cov80 [90% CI]':>22} {'cov95 [90% CI]':>22} {'n':>5} {'s':>7}"
    )
    for h in HORIZONS:
        print(f"  {h:>2} days: {'model':<24} {header}")
        for label, scores in results.items():
            print(report(label, scores, h, rng))
    ours = next(iter(results.values()))
    by_day = {level: np.asarray(ours.inside[level]).mean(axis=0)[[0, 6, 29]] for level in LEVELS}
    print(
        "  ours, coverage of the single day 1 / 7 / 30: "
        + "; ".join(
            f"{int(level * 100)}%: " + " / ".join(f"{v:.1%}" for v in by_day[level])
            for level in LEVELS
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--step", type=int, default=20, help="trading days between origins")
    parser.add_argument("--train", type=int, default=500, help="training days per origin")
    parser.add_argument("--reselect", type=int, default=10, help="our order chosen every k")
    parser.add_argument("--sf-every", type=int, default=1, help="statsforecast every n-th origin")
    parser.add_argument("--lstm", action="store_true", help="also the LSTM and the ensemble")
    parser.add_argument(
        "--quick", action="store_true", help="origins 100 days apart (a fifth): for iterating"
    )
    args = parser.parse_args()
    if args.quick:
        args.step = 100

    models: dict[str, Callable[[], Forecaster]] = {
        "ours (AutoArima)": TimedAutoArima,
        "naive": NaiveForecaster,
        "statsforecast AutoARIMA": StatsforecastAutoArima,
    }
    if args.lstm:
        models["ours (LSTM)"] = LstmForecaster
        models["ours (ensemble)"] = lambda: EnsembleForecaster([AutoArima(), LstmForecaster()])
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        f", load average {os.getloadavg()[0]:.1f} at start"
    )
    print(
        f"origins {args.step} trading days apart over the whole history, {args.train} training "
        f"days, our order re-selected every {args.reselect} origins, statsforecast at every "
        f"{args.sf_every}. origin; horizons {HORIZONS} days (the first 7 days of each 30-day "
        "forecast, and all 30); coverage with a 90% block-bootstrap interval over origins"
    )
    StatsforecastAutoArima().forecast(np.exp(np.linspace(0, 1, 60)), 7)  # JIT warm-up
    rng = np.random.default_rng(0)
    pooled: dict[str, Scores] = {label: Scores() for label in models}
    every: dict[str, list[float]] = {}
    for name, values in series().items():
        points = origins(values.size, max(HORIZONS), values.size, args.step, args.train)
        print(f"\n{name}: {values.size:,} days, {len(points)} origins")
        results: dict[str, Scores] = {}
        FIT_SECONDS.clear()
        for label, make in models.items():
            mine = points[:: args.sf_every] if make is StatsforecastAutoArima else points
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results[label] = evaluate(make, values, mine, args)
            pooled[label] = pooled[label].merged(results[label])
        print_table(results, rng)
        print_fit_times()
        every.update({k: every.get(k, []) + v for k, v in FIT_SECONDS.items()})
    print("\nall three series pooled:")
    print_table(pooled, rng)
    FIT_SECONDS.clear()
    FIT_SECONDS.update(every)
    print_fit_times()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("(targets: cov80 78-84%, cov95 93-97%; MASE below the naive forecast's is better)")


if __name__ == "__main__":
    main()
