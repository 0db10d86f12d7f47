"""Live accuracy of the forecasts already made: predictions whose target day has come, scored
against the realised daily closes.

Per asset, over the predictions generated in the last ``window_days`` days (7-day horizon):
the forecasts' MAE, the MAE of the naive forecast made at the same moments (the last close the
model saw), and the share of realised closes inside the 95% interval. An asset's forecasts have
**degraded** when, over at least ``MIN_POINTS`` realised points, they do worse than naive by
more than ``TOLERANCE`` or their 95% coverage falls below ``MIN_COVERAGE``; that is what starts
a retraining outside the weekly schedule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths

MIN_POINTS = 7
TOLERANCE = 0.25
MIN_COVERAGE = 0.75


@dataclass(frozen=True, slots=True)
class LiveAccuracy:
    asset_id: str
    points: int
    mae: float
    naive_mae: float
    coverage95: float

    @property
    def degraded(self) -> bool:
        if self.points < MIN_POINTS:
            return False
        worse_than_naive = self.mae > self.naive_mae * (1 + TOLERANCE)
        return worse_than_naive or self.coverage95 < MIN_COVERAGE


def scored_forecasts(lake: DeltaLake, paths: LakePaths, window_days: int = 28) -> pd.DataFrame:
    """The 7-day forecast points generated in the last ``window_days`` days whose target day
    has a realised close: one row per point with ``actual`` and ``naive`` (the last close the
    model saw) beside the point and its interval bounds. Empty when nothing is realised."""
    predictions_uri, bars_uri = paths.gold("predictions"), paths.gold("ohlcv_1d")
    if not (lake.exists(predictions_uri) and lake.exists(bars_uri)):
        return pd.DataFrame()
    bars = (
        lake.table(bars_uri)
        .to_pyarrow_dataset()
        .to_table(columns=["asset_id", "date", "close"])
        .to_pandas()
    )
    predictions = lake.to_arrow(predictions_uri).to_pandas()
    predictions = predictions[predictions["horizon_days"] == 7]
    if predictions.empty:
        return pd.DataFrame()
    newest = predictions["generated_at"].max()
    recent = predictions[predictions["generated_at"] > newest - pd.Timedelta(days=window_days)]
    closes = bars.rename(columns={"date": "target_date", "close": "actual"})
    scored = recent.merge(closes, on=["asset_id", "target_date"], how="inner")
    # the naive forecast made with the prediction: the close of the day before generated_at
    origin = bars.rename(columns={"close": "naive"})
    origin["generated_at"] = pd.to_datetime(origin["date"] + dt.timedelta(days=1), utc=True)
    merged: pd.DataFrame = scored.merge(
        origin[["asset_id", "generated_at", "naive"]], on=["asset_id", "generated_at"], how="inner"
    )
    return merged


def _inside(rows: pd.DataFrame, level: int) -> pd.Series:
    return (rows["actual"] >= rows[f"lower_{level}"]) & (rows["actual"] <= rows[f"upper_{level}"])


def live_accuracy(lake: DeltaLake, paths: LakePaths, window_days: int = 28) -> list[LiveAccuracy]:
    scored = scored_forecasts(lake, paths, window_days)
    if scored.empty:
        return []
    out = []
    for asset_id, rows in scored.groupby("asset_id"):
        out.append(
            LiveAccuracy(
                asset_id=str(asset_id),
                points=len(rows),
                mae=float((rows["actual"] - rows["value"]).abs().mean()),
                naive_mae=float((rows["actual"] - rows["naive"]).abs().mean()),
                coverage95=float(_inside(rows, 95).mean()),
            )
        )
    return sorted(out, key=lambda a: a.asset_id)


@dataclass(frozen=True, slots=True)
class WeeklyAccuracy:
    """The realised 7-day forecast points of all assets generated in one ISO week: the mean
    ratio of the forecasts' absolute error to the naive one's, and the share of closes
    inside the 80% and 95% intervals (calibrated intervals hold about 0.8 and 0.95)."""

    week: dt.date
    points: int
    mae_ratio: float | None
    coverage80: float
    coverage95: float


def weekly_accuracy(
    lake: DeltaLake, paths: LakePaths, window_days: int = 91
) -> list[WeeklyAccuracy]:
    scored = scored_forecasts(lake, paths, window_days)
    if scored.empty:
        return []
    generated = scored["generated_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    scored["week"] = (generated - pd.to_timedelta(generated.dt.weekday, unit="D")).dt.date
    out = []
    for week, rows in scored.groupby("week"):
        naive = float((rows["actual"] - rows["naive"]).abs().mean())
        model = float((rows["actual"] - rows["value"]).abs().mean())
        out.append(
            WeeklyAccuracy(
                week=week,  # type: ignore[arg-type]
                points=len(rows),
                mae_ratio=model / naive if naive > 0 else None,
                coverage80=float(_inside(rows, 80).mean()),
                coverage95=float(_inside(rows, 95).mean()),
            )
        )
    return out
