"""API tests, and the sample assets and bars they load through the store interface."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from pipelines.reference.model import Asset, Audit, Redemption
from pipelines.serving.base import OHLCV_SCHEMA, ServingStore

#: First bar of the sample series; hourly bars run for HOURS hours, daily bars for DAYS days.
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
HOURS = 48
DAYS = 5

SAMPLE_ASSETS: list[Asset] = [
    Asset(
        asset_id="ousg",
        symbol="OUSG",
        name="Ondo Short-Term US Government Treasuries",
        asset_class="tokenized_treasury",
        blockchain_network="ethereum",
        chains=["ethereum", "polygon", "solana"],
        contract_address="0x1b19c19393e2d034d8ff31ff34c81252fcbbee92",
        issuer_name="Ondo Finance",
        jurisdiction="Cayman Islands",
        kyc_required=True,
        redemption=Redemption(frequency="daily", settlement="T+0 in USDC", minimum_usd=5000.0),
        audits=[Audit(auditor="Code4rena", year=2023, scope="contracts")],
        launch_date=dt.date(2023, 1, 26),
        coingecko_id="ousg",
        sources=["https://ondo.finance"],
    ),
    Asset(
        asset_id="usdc",
        symbol="USDC",
        name="USD Coin",
        asset_class="stablecoin",
        blockchain_network="ethereum",
        issuer_name="Circle",
    ),
    Asset(
        asset_id="btc",
        symbol="BTC",
        name="Bitcoin",
        asset_class="crypto",
        blockchain_network="bitcoin",
    ),
]


def _bar_rows(
    asset_id: str, resolution: str, step: dt.timedelta, n: int, base: float
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for i in range(n):
        price = base + i
        rows.append(
            {
                "asset_id": asset_id,
                "resolution": resolution,
                "ts": T0 + i * step,
                "open": price,
                "high": price + 0.5,
                "low": price - 0.5,
                "close": price + 0.25,
                "volume": 1000.0 + i,
            }
        )
    return rows


def sample_bars() -> pa.Table:
    """OUSG: HOURS hourly and DAYS daily bars from T0; BTC: DAYS daily bars; USDC: none."""
    rows = [
        *_bar_rows("ousg", "1h", dt.timedelta(hours=1), HOURS, 100.0),
        *_bar_rows("ousg", "1d", dt.timedelta(days=1), DAYS, 100.0),
        *_bar_rows("btc", "1d", dt.timedelta(days=1), DAYS, 42_000.0),
    ]
    return pa.Table.from_pylist(rows, schema=OHLCV_SCHEMA)


def load_sample(store: ServingStore) -> None:
    store.upsert_assets(SAMPLE_ASSETS)
    store.upsert_ohlcv(sample_bars())
