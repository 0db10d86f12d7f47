"""Served data for the portfolio-risk tests (a plain module): the sample assets plus a coin
listed ten days ago, 120 days of daily bars (BTC every day, OUSG on weekdays only, USDC near
$1), risk scores for BTC and OUSG and 30-day forecasts for BTC and OUSG."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa

from pipelines.contracts.reference import Asset
from pipelines.contracts.served import OHLCV_SCHEMA, PREDICTIONS_SCHEMA, RISK_SCORES_SCHEMA
from pipelines.serving.store import ServingStore
from tests.fixtures.sample_data import SAMPLE_ASSETS

FIRST = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DAYS = 120
DAY = dt.timedelta(days=1)
LAST = FIRST + (DAYS - 1) * DAY
NEW_COIN = Asset(
    asset_id="newcoin",
    symbol="NEW",
    name="New Coin",
    asset_class="crypto",
    blockchain_network="solana",
)
#: 30-day forecasts: (point, lower_80, upper_80, lower_95, upper_95) as ratios to the last close.
FORECASTS = {"btc": (1.05, 0.90, 1.20, 0.80, 1.35), "ousg": (1.004, 1.0, 1.008, 0.998, 1.01)}
SCORES = {"btc": (62, 80, 10, 55, 40), "ousg": (30, 12, 35, 40, 25)}
MODEL = "risk-rules-2.0"


def closes() -> dict[str, tuple[list[dt.datetime], np.ndarray]]:
    """Each asset's bar times and closes."""
    rng = np.random.default_rng(15)
    every = [FIRST + i * DAY for i in range(DAYS)]
    weekdays = [t for t in every if t.weekday() < 5]
    return {
        "btc": (every, 40_000 * np.exp(np.cumsum(rng.normal(0, 0.03, DAYS)))),
        "ousg": (weekdays, 100 * np.exp(np.cumsum(rng.normal(2e-4, 2e-3, len(weekdays))))),
        "usdc": (every, 1 + rng.normal(0, 5e-4, DAYS)),
        "newcoin": (every[-10:], np.linspace(1.0, 1.2, 10)),
    }


def _bars() -> pa.Table:
    rows = [
        {
            "asset_id": asset,
            "resolution": "1d",
            "ts": ts,
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": 1e6,
        }
        for asset, (times, values) in closes().items()
        for ts, close in zip(times, values.tolist(), strict=True)
    ]
    return pa.Table.from_pylist(rows, schema=OHLCV_SCHEMA)


def _predictions() -> pa.Table:
    generated = LAST + DAY  # the model saw the bar of the day before: LAST's
    last_close = {a: float(v[-1]) for a, (_, v) in closes().items()}
    rows = [
        {
            "asset_id": asset,
            "horizon_days": 30,
            "generated_at": generated,
            "model_version": "test-1",
            "target_date": (generated + 30 * DAY).date(),
            **dict(
                zip(
                    ("value", "lower_80", "upper_80", "lower_95", "upper_95"),
                    (r * last_close[asset] for r in ratios),
                    strict=True,
                )
            ),
        }
        for asset, ratios in FORECASTS.items()
    ]
    return pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)


def _scores() -> pa.Table:
    factors = json.dumps({"weights": {}, "pegged": False, "top": [], "all": []})
    names = ("composite_score", "market_risk", "credit_risk", "regulatory_risk", "technical_risk")
    rows = [
        {"asset_id": a, "calculated_at": LAST, "model_version": MODEL, "factors": factors}
        | dict(zip(names, values, strict=True))
        for a, values in SCORES.items()
    ]
    return pa.Table.from_pylist(rows, schema=RISK_SCORES_SCHEMA)


def load_risk_data(store: ServingStore) -> None:
    store.upsert_assets([*SAMPLE_ASSETS, NEW_COIN])
    store.upsert_ohlcv(_bars())
    store.upsert_predictions(_predictions())
    store.upsert_risk_scores(_scores())
