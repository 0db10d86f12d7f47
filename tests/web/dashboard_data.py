"""The small store the dashboard's browser tests read (a plain module, not a plugin): the
API sample assets with 120 daily bars each, OUSG's NAV, supply and holders, the T-bill, daily
sentiment, 7- and 30-day forecasts with bands (OUSG, BTC) and risk scores (OUSG, BTC; USDC
unscored, so the page's "not scored yet" path is drawn too). Written through the store
interface, like a load."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa

from pipelines.contracts.served import (
    ECONOMIC,
    FEATURES,
    ONCHAIN,
    PREDICTIONS_SCHEMA,
    RISK_SCORES_SCHEMA,
    SENTIMENT,
)
from pipelines.serving.duckdb_store import DuckDBStore
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0, bars
from tests.fixtures.serving import series_rows

DAYS = 120
LAST_DAY = (T0 + (DAYS - 1) * DAY).date()
#: Prices of the bars: bar i opens at base + i (tests.fixtures.sample_data.bars).
BASES = {"ousg": 100.0, "usdc": 1.0, "btc": 42_000.0}
FORECAST_ASSETS = ("ousg", "btc")
RISK_SCORES = {"ousg": 23, "btc": 61}


def forecast_rows(asset_id: str, horizon: int) -> pa.Table:
    """A forecast run after the last bar: value base + DAYS + day, bands widening with the
    day (80%: +-day, 95%: +-2 day), so a test can check every bound."""
    generated = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), dt.UTC)
    start = BASES[asset_id] + DAYS
    rows = [
        {
            "asset_id": asset_id,
            "horizon_days": horizon,
            "generated_at": generated,
            "model_version": f"arima-{asset_id}@test",
            "target_date": LAST_DAY + dt.timedelta(days=day),
            "value": start + day,
            "lower_80": start + day - day,
            "upper_80": start + day + day,
            "lower_95": start + day - 2 * day,
            "upper_95": start + day + 2 * day,
        }
        for day in range(1, horizon + 1)
    ]
    return pa.Table.from_pylist(rows, schema=PREDICTIONS_SCHEMA)


def _factor(sub: str, name: str, points: float, note: str) -> dict[str, object]:
    return {
        "sub_score": sub,
        "factor": name,
        "value": points / 100,
        "points": points,
        "contribution": points / 4,
        "note": note,
    }


def risk_rows() -> pa.Table:
    calculated = dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(), dt.UTC)
    rows = []
    for asset_id, score in RISK_SCORES.items():
        factors = [
            _factor("market", "realized_volatility", score, "annualised 30-day volatility"),
            _factor("credit", "issuer_disclosure", score / 2, "audits and attestations"),
        ]
        detail = {
            "weights": {"market": 0.4, "credit": 0.3, "regulatory": 0.2, "technical": 0.1},
            "pegged": False,
            "top": factors[:1],
            "all": factors,
        }
        rows.append(
            {
                "asset_id": asset_id,
                "calculated_at": calculated,
                "model_version": "risk@test",
                "composite_score": score,
                "market_risk": score + 5,
                "credit_risk": score - 5,
                "regulatory_risk": score,
                "technical_risk": score // 2,
                "factors": json.dumps(detail),
            }
        )
    return pa.Table.from_pylist(rows, schema=RISK_SCORES_SCHEMA)


def _onchain(asset_id: str) -> pa.Table:
    """NAV accruing 5% a year, supply and holders growing, premium around zero."""
    rows = series_rows(ONCHAIN, DAYS, {"asset_id": asset_id})
    nav = [100.0 * 1.05 ** (i / 365) for i in range(DAYS)]
    columns = {
        "nav_usd": nav,
        "premium_to_nav": [((i % 7) - 3) / 1000 for i in range(DAYS)],
        "total_supply": [1e8 + 1e6 * i for i in range(DAYS)],
        "holders": [100 + i for i in range(DAYS)],
    }
    for name, values in columns.items():
        index = rows.schema.get_field_index(name)
        rows = rows.set_column(
            index, rows.schema.field(index), pa.array(values, rows.schema.field(index).type)
        )
    return rows


def build_store(path: Path) -> Path:
    """``path`` made a migrated DuckDB store holding the dashboard's test data, and closed."""
    with DuckDBStore(path) as store:
        store.migrate()
        store.upsert_assets(SAMPLE_ASSETS)
        store.upsert_ohlcv(
            pa.concat_tables(
                [bars(a, "1d", DAYS, step=DAY, base=base) for a, base in BASES.items()]
            )
        )
        store.upsert_onchain(_onchain("ousg"))
        for asset_id in BASES:
            store.upsert_features(series_rows(FEATURES, DAYS, {"asset_id": asset_id}))
        store.upsert_sentiment(
            series_rows(SENTIMENT, 10, {"asset_id": "ousg"}, start=T0 + 100 * DAY, base=-0.4)
        )
        store.upsert_economic(
            series_rows(ECONOMIC, DAYS, {"series_id": "DTB3", "region": "USA"}, base=4.0)
        )
        store.upsert_predictions(
            pa.concat_tables([forecast_rows(a, h) for a in FORECAST_ASSETS for h in (7, 30)])
        )
        store.upsert_risk_scores(risk_rows())
        store.refresh_aggregates()
    return path
