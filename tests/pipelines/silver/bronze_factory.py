"""Builds bronze envelopes (CoinAPI bars, or any payload) and lands them, for silver tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines.bronze.writer import BronzeWriter
from pipelines.contracts.envelope import RawEnvelope, partition_prefix
from pipelines.lake.objects import LocalObjectStore

DAY0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def coinapi_time(ts: dt.datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def hourly_bars(day: dt.datetime, base: float, hours: int = 24) -> list[dict[str, Any]]:
    bars = []
    for hour in range(hours):
        start = day + dt.timedelta(hours=hour)
        price = base + hour
        bars.append(
            {
                "time_period_start": coinapi_time(start),
                "time_period_end": coinapi_time(start + dt.timedelta(hours=1)),
                "time_open": coinapi_time(start),
                "time_close": coinapi_time(start + dt.timedelta(minutes=59)),
                "price_open": price,
                "price_high": price + 2,
                "price_low": price - 1,
                "price_close": price + 1,
                "volume_traded": 10.0 + hour,
                "trades_count": 3,
            }
        )
    return bars


def price_envelope(
    symbol: str,
    bars: list[dict[str, Any]],
    fetched_at: dt.datetime,
    period_id: str = "1HRS",
) -> RawEnvelope:
    return RawEnvelope.wrap(
        source="simulated",
        dataset="prices",
        endpoint="/v1/ohlcv/{symbol_id}/history",
        params={"symbol_id": f"SIMEX_SPOT_{symbol}_USD", "period_id": period_id},
        fetched_at=fetched_at,
        payload=bars,
    )


def land(lake_root: Path, envelopes: list[RawEnvelope]) -> list[str]:
    return BronzeWriter(LocalObjectStore(lake_root)).land(envelopes).keys


def daily_envelopes(symbols: dict[str, float], days: int) -> list[RawEnvelope]:
    """One envelope per symbol per day, fetched five minutes after the day ends."""
    out = []
    for offset in range(days):
        day = DAY0 + dt.timedelta(days=offset)
        fetched = day + dt.timedelta(days=1, minutes=5)
        for symbol, base in symbols.items():
            out.append(price_envelope(symbol, hourly_bars(day, base + offset), fetched))
    return out


def wrap(
    source: str,
    dataset: str,
    endpoint: str,
    payload: Any,
    fetched_at: dt.datetime,
    params: dict[str, Any] | None = None,
) -> RawEnvelope:
    """Any payload (e.g. a replayed API fixture) as the envelope its connector would land."""
    return RawEnvelope.wrap(
        source=source,
        dataset=dataset,  # type: ignore[arg-type]
        endpoint=endpoint,
        params=params or {},
        fetched_at=fetched_at,
        payload=payload,
    )


def land_lines(
    lake_root: Path,
    lines: list[str],
    *,
    source: str = "simulated",
    dataset: str = "prices",
    name: str = "junk.jsonl",
    day: str = "2026-01-06",
) -> str:
    """Write lines (possibly junk) as a bronze object of any source/dataset."""
    key = f"{partition_prefix(source, dataset, day)}/{name}"
    LocalObjectStore(lake_root).put_if_absent(key, "".join(f"{x}\n" for x in lines).encode())
    return key
