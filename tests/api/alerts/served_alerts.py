"""Served data that alert rules of every kind can fire on (a plain module, not a plugin):
four reference assets and, for each kind, a value on one side of a rule's level.

What :func:`load_alert_data` serves, as of its last hourly bar (``LAST_BAR``, closing at
``DATA_TS``):

* USDC at 0.99 (100 bps off its peg), USDT at 1.0, BUIDL at 1.02 against a NAV of 1.0
  (a 200 bps premium), BTC from 100 to 106 in its last hour (+6 %);
* BTC: risk score 70, a last scored news day at -0.6, a 7-day forecast of 112.1 made from a
  daily close of 106 (+5.75 %); BUIDL: supply from 100 to 120 (+20 %) and holders 10 to 12
  (+20 %) over the last day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa

from api.accounts.database import OpsDatabase
from api.alerts import service
from api.alerts.rules import RuleSpec
from pipelines.contracts.served import MARKET, OHLCV_SCHEMA, PREDICTIONS, RISK_SCORES, SENTIMENT
from pipelines.core.settings import Settings
from pipelines.reference import get_reference_asset
from pipelines.serving.duckdb_store import DuckDBStore
from pipelines.serving.store import ServingStore
from tests.fixtures.accounts import provision
from tests.fixtures.sample_data import flat_bars
from tests.fixtures.serving import series_rows

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
#: The first served day (midnight UTC).
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
#: The start of the last hourly bar of every asset; its close is the data's instant.
LAST_BAR = START + DAY + 2 * HOUR
DATA_TS = LAST_BAR + HOUR
ASSETS = ("usdc", "usdt", "buidl", "btc")


def hourly(asset_id: str, closes: list[float], *, last: dt.datetime = LAST_BAR) -> pa.Table:
    """Hourly bars of ``asset_id`` ending with the one that starts at ``last``."""
    first = last - (len(closes) - 1) * HOUR
    return flat_bars(asset_id, closes, resolution="1h", start=first, step=HOUR)


def _with(table: pa.Table, **columns: list[Any]) -> pa.Table:
    """``table`` with the named columns' values replaced."""
    arrays = [
        pa.array(columns[f.name], f.type) if f.name in columns else table.column(f.name)
        for f in table.schema
    ]
    return pa.Table.from_arrays(arrays, schema=table.schema)


def load_alert_data(store: ServingStore) -> None:
    store.upsert_assets([get_reference_asset(asset_id) for asset_id in ASSETS])
    store.upsert_ohlcv(
        pa.concat_tables(
            [
                hourly("usdc", [1.0, 0.99]),
                hourly("usdt", [1.0, 1.0]),
                hourly("buidl", [1.0, 1.02]),
                hourly("btc", [100.0, 100.0, 106.0]),
                # The daily close a forecast made on START + DAY saw.
                pa.Table.from_pylist(
                    [
                        {
                            "asset_id": "btc",
                            "resolution": "1d",
                            "ts": START,
                            "open": 106.0,
                            "high": 106.0,
                            "low": 106.0,
                            "close": 106.0,
                            "volume": 1.0,
                        }
                    ],
                    schema=OHLCV_SCHEMA,
                ),
            ]
        )
    )
    _load_daily(store)


def _load_daily(store: ServingStore) -> None:
    market = series_rows(
        MARKET, 2, {"asset_id": "buidl", "stale": False, "yield_method": "nav"}, start=START
    )
    store.upsert_market(
        _with(
            market,
            price_usd=[1.0, 1.02],
            nav_usd=[1.0, 1.0],
            total_supply=[100.0, 120.0],
            holders=[10, 12],
            stale=[False, False],
        )
    )
    store.upsert_sentiment(
        _with(
            series_rows(SENTIMENT, 2, {"asset_id": "btc"}, start=START), sentiment_score=[0.2, -0.6]
        )
    )
    risk = series_rows(
        RISK_SCORES, 1, {"asset_id": "btc"}, start=START + DAY, time_column="calculated_at"
    )
    store.upsert_risk_scores(_with(risk, composite_score=[70]))
    made = START + DAY
    forecast = [
        {
            "asset_id": "btc",
            "horizon_days": 7,
            "generated_at": made,
            "model_version": "m1",
            "target_date": (made + i * DAY).date(),
            "value": 106.0 + i if i < 7 else 112.1,
        }
        for i in range(1, 8)
    ]
    store.upsert_predictions(pa.Table.from_pylist(forecast, schema=PREDICTIONS.schema))


#: A rule that fires on the served data: USDC below 0.995.
USDC_BELOW = {
    "target": {"kind": "asset", "asset_id": "usdc"},
    "condition": {"kind": "price", "direction": "below", "level": 0.995},
}


def served_with_a_rule(store_path: Path, settings: Settings) -> OpsDatabase:
    """The store at ``store_path`` serving :func:`load_alert_data` (published), and the
    operational database of ``settings`` with a user owning :data:`USDC_BELOW` (opened: the
    caller closes it)."""
    with DuckDBStore(store_path) as store:
        store.migrate()
        load_alert_data(store)
    credentials = provision(settings)
    database = OpsDatabase.open(credentials.settings.ops_db)
    with database.sessions() as session:
        spec = RuleSpec.model_validate(USDC_BELOW)
        service.create(session, credentials.user_id, spec, None)
        session.commit()
    return database
