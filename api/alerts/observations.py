"""What alert rules read of the served data: one frame per condition kind, read once per
evaluation for every asset at once (never a read per rule).

Every frame has the columns ``asset_id``, ``window`` (the rule parameter the value depends on:
minutes of a price move, days of an on-chain change; 0 for kinds without one), ``value`` (in
the unit the rule's level is written in, see :mod:`api.alerts.rules`), ``data_ts`` (the
served instant the value stands for) and the kind's :data:`EXTRAS`, what a firing stores
beside the value.

Where the values come from:

* prices: the newest bar of each asset, of whichever resolution is freshest (the latest
  bar start, the finest resolution on a tie); ``data_ts`` is its close time (start + length);
* price moves: that price against the price as of ``data_ts - window``, taken from every
  resolution's closes (the finest bars reach back a day, hourly and daily bars further);
* peg deviation: that price against 1 USD, in bps (signed; the rule compares its size);
* premium to NAV: that price against the asset's NAV as carried in ``market_daily``, in bps,
  while the NAV is current (observed within ``STALE_AFTER_DAYS``);
* risk scores: the newest composite score; forecasts: the newest 7-day run's end point
  against the close the model saw; sentiment: the newest scored day of news;
* supply and holders: ``market_daily``'s newest day against the day ``window`` days before,
  while the measure is current.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from api.alerts.rules import ConditionKind
from pipelines.contracts.measures import STALE_AFTER_DAYS
from pipelines.contracts.served import MARKET, OHLCV, OHLCV_INTRADAY, SENTIMENT
from pipelines.serving.store import ServingStore

Kind = ConditionKind

#: Bar lengths: a bar's close time is its start plus its length.
BAR_LENGTH: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(minutes=1),
    "5m": pd.Timedelta(minutes=5),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
}
#: How far back 1m/5m bars are read for price moves: longer windows take their earlier
#: price from hourly or daily bars (a month of minute bars per asset is not worth reading).
INTRADAY_LOOKBACK = dt.timedelta(days=1)
#: Slack added to the longest window read, so the bar closing just before it is included.
LOOKBACK_SLACK = dt.timedelta(days=2)
#: Horizon of the forecast the ``forecast_return_7d`` kind reads.
FORECAST_HORIZON_DAYS = 7

#: What each kind's firing stores beside its value (columns of its frame).
EXTRAS: dict[Kind, tuple[str, ...]] = {
    Kind.PRICE: ("resolution",),
    Kind.PCT_MOVE: ("price", "price_before", "before_ts"),
    Kind.PEG_DEVIATION: ("price",),
    Kind.NAV_PREMIUM: ("price", "nav_usd", "nav_as_of"),
    Kind.RISK_SCORE: ("model_version",),
    Kind.SENTIMENT_BELOW: ("article_count",),
    Kind.FORECAST_RETURN: ("forecast", "last_close", "target_date", "model_version"),
    Kind.SUPPLY_CHANGE: ("total_supply", "total_supply_before"),
    Kind.HOLDERS_CHANGE: ("holders", "holders_before"),
}
#: The name a firing gives each kind's value.
VALUE_NAMES: dict[Kind, str] = {
    Kind.PRICE: "price",
    Kind.PCT_MOVE: "change_pct",
    Kind.PEG_DEVIATION: "deviation_bps",
    Kind.NAV_PREMIUM: "premium_bps",
    Kind.RISK_SCORE: "risk_score",
    Kind.SENTIMENT_BELOW: "sentiment",
    Kind.FORECAST_RETURN: "return_7d_pct",
    Kind.SUPPLY_CHANGE: "change_pct",
    Kind.HOLDERS_CHANGE: "change_pct",
}
BASE_COLUMNS = ("asset_id", "window", "value", "data_ts")
#: ``market_daily`` measure and its as-of column, per on-chain change kind.
ONCHAIN_MEASURES: dict[Kind, tuple[str, str]] = {
    Kind.SUPPLY_CHANGE: ("total_supply", "supply_as_of"),
    Kind.HOLDERS_CHANGE: ("holders", "holders_as_of"),
}
_PRICE_KINDS = frozenset({Kind.PRICE, Kind.PCT_MOVE, Kind.PEG_DEVIATION, Kind.NAV_PREMIUM})
_MARKET_KINDS = frozenset({Kind.NAV_PREMIUM, *ONCHAIN_MEASURES})


@dataclass(frozen=True)
class Needs:
    """What the rules of one evaluation read: their kinds and the windows they name."""

    kinds: frozenset[Kind]
    #: Minutes of the ``pct_move`` rules' windows.
    move_windows: frozenset[int] = frozenset()
    #: Days of the on-chain change rules' windows, per kind.
    onchain_windows: Mapping[Kind, frozenset[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Observations:
    """The frames of one evaluation, by kind (a kind no rule needs has none), and the served
    assets with their classes (what class targets expand to)."""

    frames: Mapping[Kind, pd.DataFrame]
    assets: pd.DataFrame


def empty_frame(kind: Kind) -> pd.DataFrame:
    columns = {name: pd.Series(dtype=object) for name in (*BASE_COLUMNS, *EXTRAS[kind])}
    frame = pd.DataFrame(columns)
    return frame.astype({"window": "int64", "value": "float64", "data_ts": "datetime64[ns, UTC]"})


def observe(store: ServingStore, needs: Needs) -> Observations:
    """Read what ``needs`` names from ``store``: a handful of reads, whatever the rules."""
    assets = pd.DataFrame(
        [(a.asset_id, a.asset_class) for a in store.list_assets()],
        columns=["asset_id", "asset_class"],
    )
    frames: dict[Kind, pd.DataFrame] = {}
    wanted = needs.kinds
    if wanted & _PRICE_KINDS:
        frames.update(_price_frames(store, needs))
    if wanted & _MARKET_KINDS:
        frames.update(_market_frames(store, needs, frames.get(Kind.PRICE)))
    if Kind.RISK_SCORE in wanted:
        frames[Kind.RISK_SCORE] = _risk(store.latest_risk_scores())
    if Kind.SENTIMENT_BELOW in wanted:
        frames[Kind.SENTIMENT_BELOW] = _sentiment(store.newest_rows(SENTIMENT))
    if Kind.FORECAST_RETURN in wanted:
        frames[Kind.FORECAST_RETURN] = _forecast(store.forecast_summaries(FORECAST_HORIZON_DAYS))
    return Observations({k: v for k, v in frames.items() if k in wanted}, assets)


def _frame(kind: Kind, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in the shape every frame has: the base columns, then the kind's extras."""
    if frame.empty:
        return empty_frame(kind)
    out = frame.reindex(columns=[*BASE_COLUMNS, *EXTRAS[kind]]).reset_index(drop=True)
    out["window"] = out["window"].fillna(0).astype("int64")
    out["value"] = out["value"].astype("float64")
    out["data_ts"] = pd.to_datetime(out["data_ts"], utc=True)
    finite: pd.DataFrame = out[np.isfinite(out["value"].to_numpy())]
    return finite.reset_index(drop=True)


def _pandas(table: pa.Table) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(timestamp_as_object=False)
    return frame


# --- prices ---------------------------------------------------------------------------------


def _closes(store: ServingStore, lookback: dt.timedelta) -> pd.DataFrame:
    """Every resolution's recent bars as (asset_id, resolution, ts, close, close_time)."""
    tables = [
        store.newest_rows(OHLCV, lookback),
        store.newest_rows(OHLCV_INTRADAY, min(lookback, INTRADAY_LOOKBACK)),
    ]
    bars = pd.concat(
        [_pandas(t.select(["asset_id", "resolution", "ts", "close"])) for t in tables],
        ignore_index=True,
    )
    bars["ts"] = pd.to_datetime(bars["ts"], utc=True)
    bars = bars[bars["resolution"].isin(list(BAR_LENGTH))]
    bars["close_time"] = bars["ts"] + bars["resolution"].map(BAR_LENGTH)
    bars["length"] = bars["resolution"].map(BAR_LENGTH)
    # The finest bar last among bars of one start: the freshest price is its close.
    return bars.sort_values(["asset_id", "ts", "length"], ascending=[True, True, False])


def _price_frames(store: ServingStore, needs: Needs) -> dict[Kind, pd.DataFrame]:
    longest = max(needs.move_windows, default=0)
    lookback = dt.timedelta(minutes=longest) + LOOKBACK_SLACK if longest else dt.timedelta(0)
    bars = _closes(store, lookback)
    # Per asset the finest bar of the newest start (the last row, as sorted).
    newest = bars.groupby("asset_id", sort=False).tail(1)
    latest = newest.rename(columns={"close": "price", "close_time": "data_ts"})[
        ["asset_id", "price", "data_ts", "resolution"]
    ]
    frames = {
        Kind.PRICE: _frame(Kind.PRICE, latest.assign(value=latest["price"])),
        Kind.PEG_DEVIATION: _frame(
            Kind.PEG_DEVIATION, latest.assign(value=(latest["price"] - 1.0) * 10_000)
        ),
    }
    if Kind.PCT_MOVE in needs.kinds:
        frames[Kind.PCT_MOVE] = _moves(bars, latest, needs.move_windows)
    return frames


def _moves(bars: pd.DataFrame, latest: pd.DataFrame, windows: Iterable[int]) -> pd.DataFrame:
    """Per asset and window: the newest price against the price as of ``window`` minutes
    before it (the close of the last bar, of any resolution, closed by then)."""
    minutes = sorted(set(windows))
    if latest.empty or not minutes:
        return empty_frame(Kind.PCT_MOVE)
    asked = latest.merge(pd.DataFrame({"window": minutes}), how="cross")
    asked["target"] = asked["data_ts"] - pd.to_timedelta(asked["window"], unit="min")
    path = bars.sort_values(["close_time", "length"]).drop_duplicates(
        ["asset_id", "close_time"], keep="first"
    )[["asset_id", "close_time", "close"]]
    found = pd.merge_asof(
        asked.sort_values("target"),
        path.rename(columns={"close": "price_before", "close_time": "before_ts"}),
        left_on="target",
        right_on="before_ts",
        by="asset_id",
        direction="backward",
    )
    found = found[found["price_before"].notna() & (found["price_before"] != 0)]
    found["value"] = (found["price"] / found["price_before"] - 1.0) * 100
    return _frame(Kind.PCT_MOVE, found)


# --- market_daily: NAV, supply, holders -----------------------------------------------------


def _as_datetime(days: pd.Series) -> pd.Series:
    return pd.to_datetime(days, utc=True)


def _market_frames(
    store: ServingStore, needs: Needs, prices: pd.DataFrame | None
) -> dict[Kind, pd.DataFrame]:
    longest = max((max(d, default=0) for d in needs.onchain_windows.values()), default=0)
    rows = _pandas(store.newest_rows(MARKET, dt.timedelta(days=longest)))
    rows["ts"] = pd.to_datetime(rows["ts"], utc=True)
    newest = rows.groupby("asset_id", sort=False).tail(1)
    frames: dict[Kind, pd.DataFrame] = {}
    if Kind.NAV_PREMIUM in needs.kinds and prices is not None:
        frames[Kind.NAV_PREMIUM] = _nav(prices, newest)
    for kind in ONCHAIN_MEASURES:
        if kind in needs.kinds:
            frames[kind] = _change(kind, rows, newest, needs.onchain_windows.get(kind, ()))
    return frames


def _current(as_of: pd.Series, instant: pd.Series) -> pd.Series:
    """Whether a measure observed on ``as_of`` is still current at ``instant``."""
    current: pd.Series = _as_datetime(as_of) >= (
        instant.dt.floor("D") - pd.Timedelta(days=STALE_AFTER_DAYS)
    )
    return current


def _nav(prices: pd.DataFrame, newest: pd.DataFrame) -> pd.DataFrame:
    navs = newest[["asset_id", "ts", "nav_usd", "nav_as_of"]]
    joined = prices.rename(columns={"value": "price"}).merge(navs, on="asset_id")
    joined = joined[
        joined["nav_usd"].notna()
        & (joined["nav_usd"] > 0)
        & _current(joined["nav_as_of"], joined["data_ts"])
    ]
    joined = joined.assign(
        value=(joined["price"] / joined["nav_usd"] - 1.0) * 10_000,
        data_ts=joined[["data_ts", "ts"]].max(axis=1),
        nav_as_of=joined["nav_as_of"].astype(str),
    )
    return _frame(Kind.NAV_PREMIUM, joined)


def _change(
    kind: Kind, rows: pd.DataFrame, newest: pd.DataFrame, windows: Iterable[int]
) -> pd.DataFrame:
    """Per asset and window: the measure on the newest day against ``window`` days before
    (``market_daily`` has a row for every day, its stocks carried with their as-of days)."""
    measure, as_of = ONCHAIN_MEASURES[kind]
    days = sorted(set(windows))
    if newest.empty or not days:
        return empty_frame(kind)
    now = newest[newest[measure].notna() & _current(newest[as_of], newest["ts"])]
    asked = now[["asset_id", "ts", measure]].merge(pd.DataFrame({"window": days}), how="cross")
    asked["before"] = asked["ts"] - pd.to_timedelta(asked["window"], unit="D")
    before = rows[["asset_id", "ts", measure]].rename(
        columns={"ts": "before", measure: f"{measure}_before"}
    )
    joined = asked.merge(before, on=["asset_id", "before"])
    base = joined[f"{measure}_before"].astype("float64")
    joined = joined[base.notna() & (base != 0)]
    current = joined[measure].astype("float64")
    joined = joined.assign(
        value=(current / joined[f"{measure}_before"].astype("float64") - 1.0) * 100,
        data_ts=joined["ts"],
    )
    return _frame(kind, joined)


# --- model outputs and sentiment ------------------------------------------------------------


def _risk(table: pa.Table) -> pd.DataFrame:
    rows = _pandas(table.select(["asset_id", "calculated_at", "model_version", "composite_score"]))
    rows = rows.rename(columns={"calculated_at": "data_ts", "composite_score": "value"})
    return _frame(Kind.RISK_SCORE, rows)


def _sentiment(table: pa.Table) -> pd.DataFrame:
    rows = _pandas(table.select(["asset_id", "ts", "sentiment_score", "article_count"]))
    rows = rows[rows["sentiment_score"].notna()]
    return _frame(
        Kind.SENTIMENT_BELOW, rows.rename(columns={"ts": "data_ts", "sentiment_score": "value"})
    )


def _forecast(table: pa.Table) -> pd.DataFrame:
    rows = _pandas(
        table.select(
            ["asset_id", "generated_at", "model_version", "target_date", "value", "last_close"]
        )
    )
    rows = rows[rows["last_close"].notna() & (rows["last_close"] > 0)]
    rows = rows.rename(columns={"value": "forecast", "generated_at": "data_ts"})
    rows = rows.assign(
        value=(rows["forecast"] / rows["last_close"] - 1.0) * 100,
        target_date=rows["target_date"].astype(str),
    )
    return _frame(Kind.FORECAST_RETURN, rows)
