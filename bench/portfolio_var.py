"""Benchmark: day-by-day backtest of a portfolio's 1-day VaR and ES on real daily series.

The portfolio: the S&P 500 and NASDAQ closes of ``arch.data`` and Microsoft's close from
``pmdarima`` (loaded as ``bench/var_backtest.py`` loads them), aligned by
``models.risk.portfolio.joint_returns`` on their common trading days (1999-2017), held at fixed
value weights (``--weights``, equal by default, rebalanced daily). Each day's VaR and ES are
forecast from the ``--window`` joint returns before it (504: two years of trading days, what
the risk engine reads) and compared with that day's loss, minus the portfolio's log return
``log(sum_i w_i exp(r_i))``, in the same run, for:

* **historical**: ``models.risk.portfolio.historical_risk`` (the engine's EWMA filtered
  historical simulation on the portfolio's return series);
* **EWMA normal** / **EWMA t5**: ``models.risk.portfolio.parametric_risk`` (RiskMetrics
  covariance, normal or unit-variance Student-t quantile);
* **HS 250** (baseline): plain historical simulation, the empirical quantile of the
  portfolio's last 250 returns.

Prints per level and method: breach rate and its ratio to the promised ``1 - level``, Kupiec
POF, Christoffersen independence, conditional coverage and McNeil-Frey ES p-values, seconds and
the ratio of seconds to the baseline's. Then the 10-day figures (square root of time) against
non-overlapping 10-day losses. Usage:
    .venv/bin/python bench/portfolio_var.py [--weights 0.5,0.3,0.2] [--window 504]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
from var_backtest import LEVELS, Forecasts, environment, historical, score, series

from models.risk import backtest
from models.risk.portfolio import (
    TailRisk,
    historical_risk,
    joint_returns,
    parametric_risk,
    portfolio_returns,
)

TEN_DAYS = 10


def rolling(
    returns: np.ndarray, start: int, window: int, forecast: Callable[[np.ndarray, float], TailRisk]
) -> Forecasts:
    """Each day's forecast from the ``window`` joint returns before it, at each level."""
    out: Forecasts = {}
    for level in LEVELS:
        days = [forecast(returns[:, t - window : t], level) for t in range(start, returns.shape[1])]
        out[level] = (np.array([d.var for d in days]), np.array([d.es for d in days]))
    return out


def ten_day_rate(daily: np.ndarray, var: np.ndarray, level: float) -> tuple[int, float, float]:
    """Breaches of the square-root-of-time 10-day VaR, forecast on the first day of each
    non-overlapping 10-day block, by the block's loss: blocks, breach rate, Kupiec p."""
    blocks = daily.size // TEN_DAYS
    losses = -daily[: blocks * TEN_DAYS].reshape(blocks, TEN_DAYS).sum(axis=1)
    hits = losses > var[: blocks * TEN_DAYS : TEN_DAYS] * math.sqrt(TEN_DAYS)
    return blocks, float(hits.mean()), backtest.kupiec_pof(hits, level).p_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="", help="comma-separated; equal by default")
    parser.add_argument("--window", type=int, default=504)
    args = parser.parse_args()
    print(environment())
    data = series()
    joint = joint_returns(
        {
            n: (s.index.to_numpy().astype("datetime64[D]"), s.to_numpy(float))
            for n, s in data.items()
        }
    )
    parts = [float(w) for w in args.weights.split(",")] if args.weights else [1.0] * len(data)
    weights = np.array(parts) / sum(parts)
    returns, start = joint.returns, args.window
    daily = portfolio_returns(returns, weights)
    losses = -daily[start:]
    print(
        f"portfolio {', '.join(f'{w:.0%} {a}' for a, w in zip(joint.assets, weights, strict=True))}"
        f": {returns.shape[1]} joint returns {joint.days[0]} to {joint.days[-1]} "
        f"({joint.gap_days} days inside that span without all three closes left out), "
        f"{losses.size} days backtested"
    )
    methods: dict[str, Callable[[], Forecasts]] = {
        "HS 250 (baseline)": lambda: historical(daily, start, 250),
        "historical (FHS)": lambda: rolling(
            returns, start, args.window, lambda r, q: historical_risk(r, weights, q)
        ),
        "EWMA normal": lambda: rolling(
            returns, start, args.window, lambda r, q: parametric_risk(r, weights, q)
        ),
        "EWMA t5": lambda: rolling(
            returns, start, args.window, lambda r, q: parametric_risk(r, weights, q, True)
        ),
    }
    report(methods, losses, daily[start:])


def report(
    methods: dict[str, Callable[[], Forecasts]], losses: np.ndarray, daily: np.ndarray
) -> None:
    results: dict[str, tuple[Forecasts, float]] = {}
    for method, run in methods.items():
        started = time.perf_counter()
        results[method] = (run(), time.perf_counter() - started)
    baseline_seconds = next(iter(results.values()))[1]
    print(
        f"{'level':>5} {'method':<18} {'breaches':>8} {'x promised':>10} {'Kupiec p':>9} "
        f"{'indep p':>8} {'cond p':>8} {'ES p':>7} {'seconds':>8} {'x baseline':>10}"
    )
    for level in LEVELS:
        for method, (forecasts, seconds) in results.items():
            row = score(losses, *forecasts[level], level)
            print(
                f"{level:>5.0%} {method:<18} {row.rate:>8.2%} {row.rate / (1 - level):>9.2f}x "
                f"{row.kupiec:>9.3f} {row.independence:>8.3f} {row.conditional:>8.3f} "
                f"{row.es_test:>7.3f} {seconds:>8.1f} {seconds / baseline_seconds:>9.1f}x"
            )
    print(f"\n10-day VaR (square root of time) against non-overlapping {TEN_DAYS}-day losses:")
    for level in LEVELS:
        for method, (forecasts, _) in results.items():
            blocks, rate, kupiec = ten_day_rate(daily, forecasts[level][0], level)
            print(
                f"{level:>5.0%} {method:<18} {blocks} blocks, breaches {rate:.2%} "
                f"({rate / (1 - level):.2f}x promised), Kupiec p {kupiec:.3f}"
            )


if __name__ == "__main__":
    main()
