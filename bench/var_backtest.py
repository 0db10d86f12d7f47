"""Benchmark: day-by-day backtest of the 1-day VaR and expected shortfall on real daily series.

On three real daily price series that ship inside PyPI packages -- the S&P 500 and NASDAQ
closes of ``arch.data`` (1999-2018) and Microsoft's close from ``pmdarima`` (1986-2017) -- each
day's VaR and ES are forecast from the past only and compared with that day's loss (minus the
log return), in the same run, for:

* **engine**: ``models.risk.tail.tail_forecast`` (EWMA filtered historical simulation) on the
  trailing ``--engine-window`` returns (504: two years of trading days, what the risk job reads);
* **HS 250**: historical simulation, the empirical quantile of the last 250 returns;
* **old HS 61**: the engine before: historical simulation on the last 61 returns (90 days);
* **GARCH(1,1)-t**: ``arch``'s constant-mean GARCH(1,1) with Student-t innovations, refitted
  every ``--refit`` days on the last ``--garch-window`` returns and filtered daily in between.

Every method starts on the same day (the first with ``--engine-window`` returns behind it).
Prints per series, level (95%, 99%) and method: breach rate, Kupiec POF p, Christoffersen
independence p, conditional coverage p, the McNeil-Frey ES exceedance-residual p (ES at the
same level as the VaR) and the seconds spent. Then the market sub-score gap between a calm and
a volatile series scored on the same days (``--gap-days`` days, every ``--gap-step``th), old
method beside new. Usage:
    .venv/bin/python bench/var_backtest.py [--refit 21] [--garch-window 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.risk import backtest
from models.risk.factors import log_scale, weighted_points
from models.risk.market import MarketHistory, market_factors
from models.risk.tail import student_t_tail, tail_forecast

LEVELS = (0.95, 0.99)
#: (VaR, ES) forecast arrays for the days after the warm-up, one pair per level.
Forecasts = dict[float, tuple[np.ndarray, np.ndarray]]


def series() -> dict[str, pd.Series]:
    """Daily closes indexed by date."""
    import arch.data.nasdaq
    import arch.data.sp500
    import pmdarima

    msft = pmdarima.datasets.load_msft()
    return {
        "S&P 500 (arch)": arch.data.sp500.load()["Adj Close"],
        "NASDAQ (arch)": arch.data.nasdaq.load()["Adj Close"],
        "MSFT (pmdarima)": pd.Series(msft["Close"].to_numpy(), pd.to_datetime(msft["Date"])),
    }


def engine(returns: np.ndarray, start: int, window: int) -> Forecasts:
    out: Forecasts = {}
    for level in LEVELS:
        days = [tail_forecast(returns[t - window : t], level) for t in range(start, returns.size)]
        out[level] = (np.array([d.var for d in days]), np.array([d.es for d in days]))
    return out


def historical(returns: np.ndarray, start: int, window: int) -> Forecasts:
    out: Forecasts = {}
    for level in LEVELS:
        var, es = [], []
        for t in range(start, returns.size):
            losses = -returns[max(0, t - window) : t]
            q = float(np.quantile(losses, level))
            var.append(q)
            es.append(float(losses[losses >= q].mean()))
        out[level] = (np.array(var), np.array(es))
    return out


def garch_t(returns: np.ndarray, start: int, window: int, refit: int) -> Forecasts:
    """GARCH(1,1)-t refitted every ``refit`` days on the last ``window`` returns (percent
    units, as ``arch`` prefers), its variance recursion run daily with the latest fit."""
    from arch import arch_model

    scaled = 100.0 * returns
    mean = np.empty(returns.size - start)
    vol = np.empty_like(mean)
    dof = np.empty_like(mean)
    for first in range(start, returns.size, refit):
        past = scaled[max(0, first - window) : first]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = arch_model(past, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
        mu, omega, alpha, beta, nu = (float(fit.params[k]) for k in fit.params.index)
        variance = float(fit.conditional_volatility[-1]) ** 2
        shock = past[-1] - mu
        for t in range(first, min(first + refit, returns.size)):
            variance = omega + alpha * shock**2 + beta * variance
            mean[t - start], vol[t - start], dof[t - start] = mu, np.sqrt(variance), nu
            shock = scaled[t] - mu
    out: Forecasts = {}
    for level in LEVELS:
        tails = np.array([student_t_tail(level, max(nu, 2.05)) for nu in dof])
        out[level] = (
            (vol * tails[:, 0] - mean) / 100.0,
            (vol * tails[:, 1] - mean) / 100.0,
        )
    return out


@dataclass(frozen=True, slots=True)
class Row:
    rate: float
    kupiec: float
    independence: float
    conditional: float
    es_test: float


def score(losses: np.ndarray, var: np.ndarray, es: np.ndarray, level: float) -> Row:
    hits = backtest.breaches(losses, var)
    return Row(
        rate=float(hits.mean()),
        kupiec=backtest.kupiec_pof(hits, level).p_value,
        independence=backtest.christoffersen_independence(hits).p_value,
        conditional=backtest.conditional_coverage(hits, level).p_value,
        es_test=backtest.exceedance_residual_test(losses, var, es).p_value,
    )


def backtest_series(name: str, prices: np.ndarray, args: argparse.Namespace) -> None:
    returns = np.diff(np.log(prices))
    start = args.engine_window
    losses = -returns[start:]
    methods: dict[str, Callable[[], Forecasts]] = {
        "engine (EWMA FHS)": lambda: engine(returns, start, args.engine_window),
        "HS 250": lambda: historical(returns, start, 250),
        "old HS 61": lambda: historical(returns, start, 61),
        "GARCH(1,1)-t": lambda: garch_t(returns, start, args.garch_window, args.refit),
    }
    print(f"\n{name}: {losses.size} days backtested ({returns.size} returns)")
    print(
        f"{'level':>5} {'method':<18} {'breaches':>8} {'Kupiec p':>9} {'indep p':>8} "
        f"{'cond p':>8} {'ES p':>7} {'seconds':>8}"
    )
    for method, run in methods.items():
        started = time.perf_counter()
        forecasts = run()
        seconds = time.perf_counter() - started
        for level in LEVELS:
            row = score(losses, *forecasts[level], level)
            print(
                f"{level:>5.0%} {method:<18} {row.rate:>8.2%} {row.kupiec:>9.3f} "
                f"{row.independence:>8.3f} {row.conditional:>8.3f} {row.es_test:>7.3f} "
                f"{seconds:>8.1f}"
            )


def new_market_points(closes: np.ndarray) -> float:
    """The market sub-score of a traded asset without volume data, as the engine scores it."""
    history = MarketHistory(closes, closes, closes, None, None, None)
    return weighted_points(market_factors(history, pegged=False))


def old_market_points(closes: np.ndarray) -> float:
    """The same sub-score under risk-rules-1.0 (the baseline): sample volatility, historical
    VaR 95% and ES 97.5% and the drawdown of the window, on that version's scales; the
    unreported volume scored 60 points with weight 0.1, as it still does."""
    returns = np.diff(np.log(closes))
    q = np.quantile(returns, 0.05)
    path = np.exp(np.cumsum(np.concatenate([[0.0], returns])))
    vol = float(np.std(returns, ddof=1) * np.sqrt(365))
    var95 = max(0.0, -float(q))
    es975 = max(0.0, -float(returns[returns <= np.quantile(returns, 0.025)].mean()))
    drawdown = float(np.max(1.0 - path / np.maximum.accumulate(path)))
    points = (
        0.3 * log_scale(vol, 0.005, 1.2)
        + 0.2 * log_scale(var95, 0.0005, 0.08)
        + 0.15 * log_scale(es975, 0.001, 0.12)
        + 0.15 * log_scale(drawdown, 0.001, 0.6)
        + 0.1 * 60.0
    )
    return points / 0.9


def score_gap(calm_series: pd.Series, wild_series: pd.Series, days: int, step: int) -> None:
    """Mean market sub-score of two series scored on the same trading days, old and new."""
    both = pd.concat([calm_series, wild_series], axis=1, join="inner").dropna()
    calm, wild = both.iloc[:, 0].to_numpy(float), both.iloc[:, 1].to_numpy(float)
    span = calm.size
    old_window, new_window = 62, 505  # closes: 61 returns (90 days), 504 returns (two years)
    print(
        f"\n{calm_series.name} vs {wild_series.name}: market sub-score on the last {days} common "
        f"trading days (to {both.index[-1]:%Y-%m-%d}), every {step}th day"
    )
    for label, points, window in (
        ("old (HS 61, risk-rules-1.0)", old_market_points, old_window),
        ("new (EWMA FHS)", new_market_points, new_window),
    ):
        pairs = [
            (points(calm[t - window : t]), points(wild[t - window : t]))
            for t in range(span - days, span + 1, step)
        ]
        low, high = np.array(pairs).T
        gap = high - low
        print(
            f"{label:<28} calm {low.mean():5.1f}  volatile {high.mean():5.1f}  "
            f"gap {gap.mean():5.1f} (volatile higher on {np.mean(gap > 0):.0%} of days)"
        )


def environment() -> str:
    """The date, machine and library versions a result was measured with."""
    import arch
    import scipy

    return (
        f"{dt.date.today()} {platform.platform()} {platform.processor() or platform.machine()} "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, arch {arch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine-window", type=int, default=504)
    parser.add_argument("--garch-window", type=int, default=1000)
    parser.add_argument("--refit", type=int, default=21)
    parser.add_argument("--gap-days", type=int, default=2500)
    parser.add_argument("--gap-step", type=int, default=5)
    args = parser.parse_args()
    print(environment())
    data = series()
    started = time.perf_counter()
    for name, prices in data.items():
        backtest_series(name, prices.to_numpy(float), args)
    calm = data["S&P 500 (arch)"].rename("S&P 500")
    for wild in ("NASDAQ", "MSFT"):
        name = next(n for n in data if n.startswith(wild))
        score_gap(calm, data[name].rename(wild), args.gap_days, args.gap_step)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
