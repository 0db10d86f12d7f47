"""Derived columns: what a rule needs that is not a column of the silver row itself.

Great Expectations checks one row (or one pair of columns) at a time. Rules that compare a row
with its context -- the asset's class in the reference data, the same fund's NAV the day before,
the fetch time plus a clock skew -- get a helper column here first; the checks in
:mod:`pipelines.quality.suites` then run on it. Everything is vectorised (pandas), never a
per-row Python loop: the gate runs on every micro-batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from pipelines.lake.delta import DeltaLake
from pipelines.quality.suites import CLOCK_SKEW, NAV_LOOKBACK_DAYS, DatasetSuite
from pipelines.reference import load_assets

#: Silver columns each derived column is computed from.
DERIVED_INPUTS: Mapping[str, tuple[str, ...]] = {
    "fetched_at_limit": ("fetched_at",),
    "asset_class": ("asset_id",),
    "nav_change": ("asset_id", "source", "ts", "nav_usd"),
    "fetched_date": ("fetched_at",),
    "url_or_outlet": ("url", "outlet"),
}

_NAV_SERIES = ["asset_id", "source"]
#: The columns of the silver NAV history the NAV check reads.
NAV_COLUMNS = (*_NAV_SERIES, "ts", "nav_usd")


def columns_needed(suite: DatasetSuite) -> tuple[str, ...]:
    """Silver columns a batch must carry for ``suite``: those checked and those derived from."""
    inputs = {c for name in suite.derived for c in DERIVED_INPUTS[name]}
    return tuple(sorted(set(suite.input_columns) | inputs))


def asset_classes() -> dict[str, str]:
    """asset_id -> asset class, from the packaged reference data."""
    return {asset.asset_id: asset.asset_class for asset in load_assets()}


class NavHistory:
    """The last NAVs already in ``silver/onchain`` before a batch, so a series that starts
    mid-batch is compared with its previous day. Reads only the ``date`` partitions of the
    look-back window and four columns."""

    def __init__(self, lake: DeltaLake, silver_uri: str) -> None:
        self._lake = lake
        self._uri = silver_uri

    def before(self, batch: pd.DataFrame) -> pd.DataFrame:
        """Silver NAV rows (asset_id, source, ts, nav_usd) in the window ending at the batch's
        last day; empty when the table does not exist yet."""
        times = batch["ts"].dropna()
        table = None
        if not times.empty:
            first, last = times.min().date(), times.max().date()
            table = read_nav_history(self._lake, self._uri, first, last)
        return pd.DataFrame(columns=list(NAV_COLUMNS)) if table is None else table.to_pandas()


def nav_window(first_day: dt.date, last_day: dt.date) -> tuple[dt.date, dt.date]:
    """The ``date`` partitions of silver/onchain the NAV check reads for a batch of these days."""
    return first_day - dt.timedelta(days=NAV_LOOKBACK_DAYS), last_day


def read_nav_history(
    lake: DeltaLake, onchain_uri: str, first_day: dt.date, last_day: dt.date
) -> pa.Table | None:
    """Silver NAV rows (asset_id, source, ts, nav_usd) with a NAV, in the look-back window of a
    batch whose ``ts`` span ``first_day``..``last_day`` (UTC), read with delta-rs (only those
    partitions and four columns; every gate reads its history here); None while the table does
    not exist."""
    if not lake.exists(onchain_uri):
        return None
    start, end = nav_window(first_day, last_day)
    dataset = lake.table(onchain_uri).to_pyarrow_dataset()
    window = (pads.field("date") >= start) & (pads.field("date") <= end)
    return dataset.to_table(
        columns=list(NAV_COLUMNS), filter=window & pads.field("nav_usd").is_valid()
    )


@dataclass(frozen=True, slots=True)
class DerivationContext:
    """What derived columns need beyond the batch: reference data and silver history."""

    asset_classes: Mapping[str, str]
    nav_history: NavHistory | None


def add_fetched_at_limit(frame: pd.DataFrame, _: DerivationContext) -> pd.Series:
    return frame["fetched_at"] + pd.Timedelta(CLOCK_SKEW)


def add_fetched_date(frame: pd.DataFrame, _: DerivationContext) -> pd.Series:
    # observation_date arrives as a naive datetime64 (date_as_object=False): match it.
    return cast("pd.Series", frame["fetched_at"].dt.tz_convert(None).dt.floor("D"))


def add_url_or_outlet(frame: pd.DataFrame, _: DerivationContext) -> pd.Series:
    url = frame["url"].where(frame["url"].str.strip().str.len() > 0)
    outlet = frame["outlet"].where(frame["outlet"].str.strip().str.len() > 0)
    return url.fillna(outlet)


def add_asset_class(frame: pd.DataFrame, context: DerivationContext) -> pd.Series:
    return frame["asset_id"].map(context.asset_classes)


def add_nav_change(frame: pd.DataFrame, context: DerivationContext) -> pd.Series:
    """|nav / previous nav - 1| per (asset_id, source), previous = the series' preceding row in
    time among the batch and the silver window before it (a batch row replaces a silver row of
    the same key). Null where there is no previous NAV."""
    batch = frame[list(NAV_COLUMNS)].assign(position=range(len(frame)))
    history = context.nav_history.before(batch) if context.nav_history else batch.iloc[:0]
    series = batch
    if not history.empty:
        keys = batch[[*_NAV_SERIES, "ts"]].drop_duplicates()
        replaced = history.merge(keys, how="left", indicator=True)
        history = history[(replaced["_merge"] == "left_only").to_numpy()].assign(position=-1)
        series = pd.concat([history, batch], ignore_index=True)
    series = series[series["nav_usd"].notna()].sort_values([*_NAV_SERIES, "ts"], kind="stable")
    previous = series.groupby(_NAV_SERIES, sort=False, dropna=False)["nav_usd"].shift(1)
    change = (series["nav_usd"] / previous - 1).abs()
    in_batch = series["position"] >= 0
    out = np.full(len(frame), np.nan)
    out[series.loc[in_batch, "position"].to_numpy()] = change[in_batch].to_numpy()
    return pd.Series(out, index=frame.index)


_BUILDERS: Mapping[str, Callable[[pd.DataFrame, DerivationContext], pd.Series]] = {
    "fetched_at_limit": add_fetched_at_limit,
    "asset_class": add_asset_class,
    "nav_change": add_nav_change,
    "fetched_date": add_fetched_date,
    "url_or_outlet": add_url_or_outlet,
}


def with_derived_columns(
    suite: DatasetSuite, frame: pd.DataFrame, context: DerivationContext
) -> pd.DataFrame:
    """``frame`` plus the suite's derived columns (in place: the frame is the gate's copy)."""
    for name in suite.derived:
        frame[name] = _BUILDERS[name](frame, context)
    return frame


def to_validation_frame(rows: pa.Table, columns: tuple[str, ...]) -> pd.DataFrame:
    """The columns GX reads, as pandas with a positional index (0..n-1): GX's unexpected index
    list then names row positions of ``rows``. Dates become datetime64 so they compare with
    derived timestamps; whitespace-only strings stay as they are (a check looks at them)."""
    frame = rows.select(list(columns)).to_pandas(date_as_object=False, ignore_metadata=True)
    return frame.reset_index(drop=True)
