"""Independent pandas computations of the gold tables, from the silver frames, written the
plain way (loops and pandas rolling windows) to check the Spark code against."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from pipelines.contracts.measures import ONCHAIN_METRICS

SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3_600, "1d": 86_400}


def finest(silver: pd.DataFrame, target: int) -> pd.DataFrame:
    """Per asset and day, the bars of the finest resolution tiling ``target`` seconds."""
    bars = silver.assign(sec=silver["resolution"].map(SECONDS), day=silver["ts"].dt.floor("D"))
    bars = bars[(bars["sec"] <= target) & (target % bars["sec"] == 0)]
    return bars[bars["sec"] == bars.groupby(["asset_id", "day"])["sec"].transform("min")]


def ohlcv(silver: pd.DataFrame, resolution: str) -> pd.DataFrame:
    target = SECONDS[resolution]
    bars = finest(silver, target).sort_values("ts")
    bars = bars.assign(bucket=bars["ts"].dt.floor(f"{target}s"))
    grouped = bars.groupby(["asset_id", "bucket"])
    out = grouped.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        source_bars=("ts", "size"),
    )
    # Unknown when any bar's volume is unknown (a partial sum would understate it).
    out["volume"] = grouped["volume"].agg(lambda v: v.sum() if v.notna().all() else math.nan)
    out["trades"] = grouped["trades"].sum(min_count=1)
    out = out.reset_index().rename(columns={"bucket": "ts"})
    out["resolution"] = resolution
    out["date"] = out["ts"].dt.date
    return out.sort_values(["asset_id", "ts"]).reset_index(drop=True)


def _window_max_drawdown(close: pd.Series, day: pd.Timestamp, min_periods: int) -> float:
    window = close[day - pd.Timedelta(days=29) : day]
    if len(window) < min_periods:
        return math.nan
    return float((window / window.cummax() - 1).min())


def features(silver: pd.DataFrame) -> pd.DataFrame:
    daily = ohlcv(silver, "1d")
    frames = []
    for _, bars in daily.groupby("asset_id"):
        d = bars.set_index(pd.DatetimeIndex(bars["ts"].dt.tz_localize(None))).sort_index()
        previous = d["close"].shift(1)
        log_return = np.log(d["close"] / previous)
        dollar_volume = d["close"] * d["volume"]
        return_1d = d["close"] / previous - 1
        illiquidity = (return_1d.abs() / (dollar_volume / 1e6)).where(dollar_volume > 0)
        frames.append(
            pd.DataFrame(
                {
                    "asset_id": d["asset_id"],
                    "date": d["date"],
                    "close": d["close"],
                    "return_1d": return_1d,
                    "log_return_1d": log_return,
                    "realized_vol_7d": log_return.rolling("7D", min_periods=5).std()
                    * math.sqrt(365),
                    "realized_vol_30d": log_return.rolling("30D", min_periods=20).std()
                    * math.sqrt(365),
                    "drawdown": d["close"] / d["close"].cummax() - 1,
                    "max_drawdown_30d": [
                        _window_max_drawdown(d["close"], day, 20) for day in d.index
                    ],
                    "dollar_volume": dollar_volume,
                    "amihud_30d": illiquidity.rolling("30D", min_periods=20).mean(),
                    "hl_range": (d["high"] - d["low"]) / d["close"],
                }
            )
        )
    result = pd.concat(frames, ignore_index=True)
    intraday = finest(silver[silver["resolution"] != "1d"], 86_400)
    shares = (
        intraday.assign(
            zero=(intraday["volume"] == 0).astype(float).where(intraday["volume"].notna()),
            date=intraday["ts"].dt.date,
        )
        .groupby(["asset_id", "date"])
        .agg(zero_volume_share=("zero", "mean"), intraday_bars=("zero", "count"))
        .reset_index()
    )
    return result.merge(shares, on=["asset_id", "date"], how="left")


def canonical_logs(transfers: pd.DataFrame) -> pd.DataFrame:
    """Logs not removed and not covered by a range row fetched after them."""
    ranges = transfers[transfers["log_index"] < 0]
    logs = transfers[(transfers["log_index"] >= 0) & ~transfers["removed"].eq(True)]

    def orphaned(log: pd.Series) -> bool:
        covering = ranges[
            (ranges["chain"] == log["chain"])
            & (ranges["contract_address"] == log["contract_address"])
            & (ranges["block_number"] <= log["block_number"])
            & (ranges["range_to"] >= log["block_number"])
        ]
        return any(
            (r["fetched_at"], r["ingest_id"]) > (log["fetched_at"], log["ingest_id"])
            for _, r in covering.iterrows()
        )

    return logs[[not orphaned(log) for _, log in logs.iterrows()]]


def token_flows(transfers: pd.DataFrame) -> pd.DataFrame:
    """Per asset-day with logs: counts, token amounts and holders, by replaying balances."""
    zero = "0x" + "0" * 40
    rows = []
    for asset_id, logs in canonical_logs(transfers).groupby("asset_id"):
        balances: dict[str, int] = {}
        for day, today in logs.sort_values("date").groupby("date"):
            minted = burned = volume = 0.0
            for _, log in today.iterrows():
                raw = int(log["amount_raw"])
                tokens = raw / 10.0 ** int(log["decimals"])
                volume += tokens
                if log["from_address"] == zero:
                    minted += tokens
                else:
                    balances[log["from_address"]] = balances.get(log["from_address"], 0) - raw
                if log["to_address"] == zero:
                    burned += tokens
                else:
                    balances[log["to_address"]] = balances.get(log["to_address"], 0) + raw
            rows.append(
                {
                    "asset_id": asset_id,
                    "date": day,
                    "log_transfer_count": len(today),
                    "transfer_volume": volume,
                    "minted": minted,
                    "burned": burned,
                    "net_flow": minted - burned,
                    "log_holders": sum(1 for b in balances.values() if b > 0),
                    "flow_sources": tuple(sorted(set(today["source"]))),
                }
            )
    return pd.DataFrame(rows)


def onchain(
    onchain_silver: pd.DataFrame,
    prices_silver: pd.DataFrame,
    transfers_silver: pd.DataFrame | None = None,
) -> pd.DataFrame:
    rows = []
    for (asset_id, day), group in onchain_silver.groupby(["asset_id", "date"]):
        ordered = group.sort_values(["fetched_at", "source"])
        row: dict[str, object] = {"asset_id": asset_id, "date": day}
        for metric in ONCHAIN_METRICS:
            known = ordered[metric].dropna()
            row[metric] = known.iloc[-1] if len(known) else math.nan
        row["sources"] = tuple(sorted(set(group["source"])))
        rows.append(row)
    result = pd.DataFrame(rows)
    if transfers_silver is not None:
        result = _add_flows(result, token_flows(transfers_silver))
    closes = ohlcv(prices_silver, "1d")[["asset_id", "date", "close"]]
    result = result.merge(closes, on=["asset_id", "date"], how="left")
    result["net_exchange_flow_usd"] = result["exchange_inflow_usd"] - result["exchange_outflow_usd"]
    nav = result["nav_usd"]
    result["premium_to_nav"] = (result["close"] / nav - 1).where(nav > 0)
    if transfers_silver is not None:
        price = nav.fillna(result["close"])
        result["transfer_volume_usd"] = result["transfer_volume_usd"].fillna(
            result["transfer_volume"] * price
        )
        for flow in ("minted", "burned", "net_flow"):
            result[f"{flow}_usd"] = result[flow] * price
    return result


def _add_flows(feed: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """The feed's rows and the flows' rows joined; the feed wins where both have a measure."""
    both = feed.merge(flows, on=["asset_id", "date"], how="outer")
    both["holders"] = both["holders"].fillna(both["log_holders"])
    both["transfer_count"] = both["transfer_count"].fillna(both["log_transfer_count"])
    both["sources"] = [
        tuple(
            sorted(set(a if isinstance(a, tuple) else ()) | set(b if isinstance(b, tuple) else ()))
        )
        for a, b in zip(both["sources"], both["flow_sources"], strict=True)
    ]
    return both


def macro(
    economic: pd.DataFrame, prices_silver: pd.DataFrame, countries: dict[str, str | None]
) -> pd.DataFrame:
    daily = ohlcv(prices_silver, "1d")
    observations = economic[economic["value"].notna()]
    rows = []
    for asset_id, bars in daily.groupby("asset_id"):
        first, last = bars["date"].min(), bars["date"].max()
        applicable = observations[
            ((observations["region"] == "USA") & (observations["source"] != "worldbank"))
            | (observations["region"] == countries.get(str(asset_id)))
        ]
        day = first
        while day <= last:
            known = applicable[
                (applicable["observation_date"] <= day) & (applicable["realtime_start"] <= day)
            ]
            for _, series in known.groupby(["series_id", "region"]):
                latest = series.sort_values("observation_date").iloc[-1]
                rows.append({"asset_id": asset_id, "date": day} | latest.to_dict())
            day += dt.timedelta(days=1)
    return pd.DataFrame(rows)


def sentiment_counts(news: pd.DataFrame) -> pd.DataFrame:
    mentions = news.explode("asset_ids").dropna(subset=["asset_ids"])
    grouped = mentions.rename(columns={"asset_ids": "asset_id"}).groupby(["asset_id", "date"])
    return grouped.agg(
        article_count=("article_id", "nunique"),
        outlet_count=("outlet", "nunique"),
        article_ids=("article_id", lambda ids: tuple(sorted(set(ids)))),
    ).reset_index()


def assert_columns_equal(got: pd.DataFrame, want: pd.DataFrame, columns: list[str]) -> None:
    """Row-aligned frames agree on every column: floats to 1e-9 relative (Spark and pandas sum
    in different orders), nulls in the same places, everything else exactly."""
    assert len(got) == len(want), f"{len(got)} rows, expected {len(want)}"
    for column in columns:
        left, right = got[column].reset_index(drop=True), want[column].reset_index(drop=True)
        if pd.api.types.is_datetime64_any_dtype(left):
            left, right = left.astype("datetime64[ns, UTC]"), right.astype("datetime64[ns, UTC]")
        if pd.api.types.is_float_dtype(left) or pd.api.types.is_float_dtype(right):
            np.testing.assert_allclose(
                left.astype(float), right.astype(float), rtol=1e-9, err_msg=column
            )
        else:
            assert [_cell(v) for v in left] == [_cell(v) for v in right], column


def _cell(value: object) -> object:
    """A cell with every flavour of null (None, NaN, NaT, pd.NA) as None."""
    if isinstance(value, tuple):
        return value
    return None if pd.isna(value) else value
