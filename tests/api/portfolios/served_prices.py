"""A small served store with known prices and a portfolio's trades over it, for the valuation
and P&L tests (a plain module). Every expected number in those tests is computed by hand from
the tables here; the comments give the arithmetic.

Days are ``T0 + i`` (2024-01-01 is day 0); the last served day is day 4.

* ``btc`` (crypto, bitcoin, no issuer): daily closes only.
* ``ousg`` (tokenized treasury, ethereum, Ondo Finance): daily closes at a premium and a NAV
  on days 0-3 (day 4's on-chain row has none): NAV-priced, at day 3's NAV.
* ``bcred`` (private credit): a NAV 40 days before day 0 (too old: :data:`NAV_MAX_AGE`) and a
  close on day 4: priced at the close.
* ``usdc`` (stablecoin): held, never priced: unpriced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa

from api.portfolios.ledger import Trade, TransactionKind
from pipelines.contracts.reference import Asset, AssetClass
from pipelines.contracts.served import OHLCV_SCHEMA, ONCHAIN_SCHEMA
from pipelines.serving.store import ServingStore

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _asset(asset_id: str, asset_class: AssetClass, network: str, issuer: str | None) -> Asset:
    name = asset_id.upper()
    return Asset(
        asset_id=asset_id,
        symbol=name,
        name=name,
        asset_class=asset_class,
        blockchain_network=network,
        issuer_name=issuer,
    )


ASSETS = [
    _asset("btc", "crypto", "bitcoin", None),
    _asset("ousg", "tokenized_treasury", "ethereum", "Ondo Finance"),
    _asset("bcred", "private_credit", "ethereum", "Credit Co"),
    _asset("usdc", "stablecoin", "ethereum", "Circle"),
]

#: Daily closes by asset, from day 0 (bcred: day 4 only).
CLOSES: dict[str, list[float]] = {
    "btc": [40000.0, 41000.0, 39000.0, 42000.5, 43000.1],
    "ousg": [100.0, 100.5, 101.0, 101.2, 101.3],
}
BCRED_CLOSE = 25.5
#: OUSG's NAV on days 0-3.
OUSG_NAV = [100.1, 100.2, 100.3, 100.4]


def _at(day: int, hour: int = 12) -> dt.datetime:
    return T0 + day * DAY + dt.timedelta(hours=hour)


def _trade(
    kind: TransactionKind,
    asset: str,
    quantity: str,
    price: str | None,
    fee: str,
    day: int,
    id_: int,
) -> Trade:
    return Trade(
        kind,
        asset,
        Decimal(quantity),
        None if price is None else Decimal(price),
        Decimal(fee),
        _at(day),
        id_,
    )


B, S = TransactionKind.BUY, TransactionKind.SELL
TIN, TOUT = TransactionKind.TRANSFER_IN, TransactionKind.TRANSFER_OUT

#: The portfolio: two BTC buys and a partial sell, an OUSG buy and a transfer out (gas 0.5),
#: USDC transferred in (gas 2), BCRED bought. FIFO and average cost differ on the BTC sale only.
TRADES = [
    _trade(B, "btc", "1", "40000", "10", 0, 1),  # cost 40010
    _trade(B, "btc", "0.5", "41000", "5", 1, 2),  # cost 20505: 1.5 BTC for 60515
    _trade(B, "ousg", "100", "100.2", "1", 1, 3),  # cost 10021
    _trade(S, "btc", "0.6", "39000", "3", 2, 4),  # proceeds 23397
    _trade(TIN, "usdc", "1000", "1", "2", 2, 5),  # cost 1000, gas -2 realized
    _trade(TOUT, "ousg", "40", None, "0.5", 3, 6),  # 40 leave at 4008.4, gas -0.5 realized
    _trade(B, "bcred", "10", "25", "0", 3, 7),  # cost 250
]


def load(store: ServingStore) -> None:
    """The assets, closes and on-chain rows above."""
    store.upsert_assets(ASSETS)
    daily = [
        (a, T0 + i * DAY, close) for a, closes in CLOSES.items() for i, close in enumerate(closes)
    ]
    daily.append(("bcred", T0 + 4 * DAY, BCRED_CLOSE))
    assets, times, prices = zip(*daily, strict=True)
    n = len(daily)
    columns = {"asset_id": assets, "resolution": ["1d"] * n, "ts": times, "volume": [None] * n}
    columns |= {price: prices for price in ("open", "high", "low", "close")}
    store.upsert_ohlcv(pa.table({k: columns[k] for k in OHLCV_SCHEMA.names}, schema=OHLCV_SCHEMA))
    onchain = [
        {"asset_id": "ousg", "ts": T0 + i * DAY, "nav_usd": v} for i, v in enumerate(OUSG_NAV)
    ]
    onchain.append({"asset_id": "ousg", "ts": T0 + 4 * DAY, "holders": 7})
    onchain.append({"asset_id": "bcred", "ts": T0 - 40 * DAY, "nav_usd": 24.0})
    store.upsert_onchain(pa.Table.from_pylist(onchain, schema=ONCHAIN_SCHEMA))
