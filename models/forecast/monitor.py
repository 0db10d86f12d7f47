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


def live_accuracy(lake: DeltaLake, paths: LakePaths, window_days: int = 28) -> list[LiveAccuracy]:
    predictions_uri, bars_uri = paths.gold("predictions"), paths.gold("ohlcv_1d")
    if not (lake.exists(predictions_uri) and lake.exists(bars_uri)):
        return []
    bars = (
        lake.table(bars_uri)
        .to_pyarrow_dataset()
        .to_table(columns=["asset_id", "date", "close"])
        .to_pandas()
    )
    predictions = lake.to_arrow(predictions_uri).to_pandas()
    predictions = predictions[predictions["horizon_days"] == 7]
    if predictions.empty:
        return []
    newest = predictions["generated_at"].max()
    recent = predictions[predictions["generated_at"] > newest - pd.Timedelta(days=window_days)]
    closes = bars.rename(columns={"date": "target_date", "close": "actual"})
    scored = recent.merge(closes, on=["asset_id", "target_date"], how="inner")
    # the naive forecast made with the prediction: the close of the day before generated_at
    origin = bars.rename(columns={"close": "naive"})
    origin["generated_at"] = pd.to_datetime(origin["date"] + dt.timedelta(days=1), utc=True)
    scored = scored.merge(
        origin[["asset_id", "generated_at", "naive"]], on=["asset_id", "generated_at"], how="inner"
    )
    out = []
    for asset_id, rows in scored.groupby("asset_id"):
        inside = (rows["actual"] >= rows["lower_95"]) & (rows["actual"] <= rows["upper_95"])
        out.append(
            LiveAccuracy(
                asset_id=str(asset_id),
                points=len(rows),
                mae=float((rows["actual"] - rows["value"]).abs().mean()),
                naive_mae=float((rows["actual"] - rows["naive"]).abs().mean()),
                coverage95=float(inside.mean()),
            )
        )
    return sorted(out, key=lambda a: a.asset_id)
