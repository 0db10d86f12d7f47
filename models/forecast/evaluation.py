"""Rolling-origin evaluation: refit at each origin on the past only, score the next horizon.

At origin ``t`` the forecaster sees ``series[:t]`` and nothing after it; its forecast of
``series[t:t + horizon]`` is scored with MAE, RMSE, sMAPE, MASE (scaled by the naive error of
the same past) and the coverage of each interval. Origins step back from the end of the series,
``step`` days apart, so the newest data is always evaluated.

Everything a model learns is learnt at an origin from that origin's past: with
``refit_every=k`` the model (e.g. ARIMA's order and coefficients) is learnt afresh at every k-th
origin and kept, frozen, for the next k - 1 origins, which only run it over their longer past
(Tashman 2000's "updating without recalibration"): cheaper, and still no look-ahead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from models.forecast import metrics
from models.forecast.forecasters import Forecast, Forecaster
from models.forecast.intervals import LEVELS


@dataclass(frozen=True, slots=True)
class Evaluation:
    model: str
    horizon: int
    origins: int
    mae: float
    rmse: float
    smape: float
    mase: float
    coverage: dict[float, float]

    def as_metrics(self) -> dict[str, float]:
        out = {
            f"mae_{self.horizon}d": self.mae,
            f"rmse_{self.horizon}d": self.rmse,
            f"smape_{self.horizon}d": self.smape,
            f"mase_{self.horizon}d": self.mase,
            f"origins_{self.horizon}d": float(self.origins),
        }
        out |= {
            f"coverage{int(level * 100)}_{self.horizon}d": value
            for level, value in self.coverage.items()
        }
        return out


def origins(length: int, horizon: int, count: int, step: int, min_train: int) -> list[int]:
    """Origins (training lengths), oldest first, the last leaving exactly ``horizon`` days."""
    last = length - horizon
    chosen = [last - i * step for i in range(count)]
    return sorted(o for o in chosen if o >= min_train)


def forecasts_at_origins(
    make: Callable[[], Forecaster],
    series: np.ndarray,
    horizon: int,
    points: Sequence[int],
    refit_every: int = 1,
    window: int | None = None,
) -> Iterator[tuple[int, Forecast]]:
    """The forecast made at each origin from ``series[:origin]`` alone (its last ``window``
    days, if given): a fresh model from ``make`` learns (and is frozen) at every
    ``refit_every``-th origin, from that origin's past; the origins in between reuse it on
    their own, later past."""
    model: Forecaster | None = None
    for index, origin in enumerate(points):
        past = series[max(0, origin - window) if window else 0 : origin]
        if model is None or index % refit_every == 0:
            model = make().frozen(past)
        yield origin, model.forecast(past, horizon)


def rolling_origin(
    forecaster: Forecaster | Callable[[], Forecaster],
    series: np.ndarray,
    horizon: int,
    *,
    count: int = 10,
    step: int = 7,
    min_train: int = 60,
    refit_every: int = 1,
) -> Evaluation:
    """Evaluate ``forecaster`` over up to ``count`` origins (see the module doc)."""
    if isinstance(forecaster, Forecaster):
        make: Callable[[], Forecaster] = lambda: forecaster  # noqa: E731 - one model reused
    else:
        make = forecaster
    points = origins(series.size, horizon, count, step, min_train)
    if not points:
        raise ValueError(
            f"a series of {series.size} days is too short for a {horizon}-day evaluation "
            f"with {min_train} training days"
        )
    errors: dict[str, list[float]] = {"mae": [], "rmse": [], "smape": [], "mase": []}
    inside: dict[float, list[float]] = {level: [] for level in LEVELS}
    for origin, result in forecasts_at_origins(make, series, horizon, points, refit_every):
        past, future = series[:origin], series[origin : origin + horizon]
        errors["mae"].append(metrics.mae(future, result.mean))
        errors["rmse"].append(metrics.rmse(future, result.mean))
        errors["smape"].append(metrics.smape(future, result.mean))
        errors["mase"].append(metrics.mase(future, result.mean, past))
        for level in LEVELS:
            inside[level].append(metrics.coverage(future, result.lower[level], result.upper[level]))
    return Evaluation(
        model=make().name,
        horizon=horizon,
        origins=len(points),
        mae=float(np.mean(errors["mae"])),
        rmse=float(np.mean(errors["rmse"])),
        smape=float(np.mean(errors["smape"])),
        mase=float(np.mean(errors["mase"])),
        coverage={level: float(np.mean(values)) for level, values in inside.items()},
    )
