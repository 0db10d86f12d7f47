"""The small store (and lake) the dashboard's browser tests read (a plain module, not a
plugin): the API sample assets with 120 daily bars each, OUSG's NAV, supply and holders, the
T-bill, daily sentiment and headlines, 7- and 30-day forecasts with bands (OUSG, BTC), risk
scores (OUSG, BTC; USDC unscored, so the page's "not scored yet" path is drawn too) and the
market analytics of the API's tests. Written through the store interface, like a load."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
from deltalake import write_deltalake

from models.registry import ModelRegistry
from pipelines.contracts.served import (
    ECONOMIC,
    FEATURES,
    NEWS,
    ONCHAIN,
    PREDICTIONS_SCHEMA,
    RISK_SCORES_SCHEMA,
    SENTIMENT,
)
from pipelines.core.settings import LakeSettings
from pipelines.lake.objects import open_object_store
from pipelines.lake.paths import LakePaths
from pipelines.serving.duckdb_store import DuckDBStore
from tests.fixtures.market import market_rows
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


def news_rows() -> pa.Table:
    """Three headlines of OUSG on its last sentiment days, the last also naming BTC."""
    rows = [
        {
            "asset_id": asset_id,
            "ts": T0 + (107 + i) * DAY,
            "article_id": f"n{i}",
            "title": f"OUSG headline {i}",
            "url": f"https://news.example/n{i}",
            "outlet": "Example Wire",
            "sentiment_score": (i - 1) / 2,
            "sentiment_label": ("negative", "neutral", "positive")[i],
            "model_version": "lexicon:test",
        }
        for i in range(3)
        for asset_id in (("ousg", "btc") if i == 2 else ("ousg",))
    ]
    return pa.Table.from_pylist(rows, schema=NEWS.schema)


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
        store.upsert_news(news_rows())
        # the market analytics of the API's tests: 40 days, BTC's feed stopping (stale)
        store.upsert_market(market_rows())
        store.refresh_aggregates()
    return path


def _write(uri: str, rows: list[dict[str, object]]) -> None:
    write_deltalake(uri, pa.Table.from_pylist(rows), mode="overwrite")


def build_lake(root: Path) -> Path:
    """A small lake the status page reads: silver's quarantine and batch counts, gold daily
    closes of OUSG and BTC, 7-day forecasts made over two weeks whose targets have closes
    (OUSG's inside their intervals, BTC's 5 above: degraded), and one registered model."""
    settings = LakeSettings(root=str(root))
    paths = LakePaths(settings)
    _write(
        paths.quarantine,
        [
            {"dataset": "prices", "record_id": f"r{i}", "reason": reason}
            for i, reason in enumerate(["high below low", "high below low", "price <= 0"])
        ],
    )
    now = dt.datetime.combine(LAST_DAY, dt.time(), dt.UTC)
    _write(
        paths.reconciliation,
        [
            {
                "dataset": "prices",
                "stream_id": "s",
                "batch_id": i,
                "records_in": 100,
                "inserted": 97,
                "quarantined": 3,
                "processed_at": now,
            }
            for i in range(2)
        ],
    )
    closes = {
        (asset_id, (T0 + i * DAY).date()): base + i + 0.25
        for asset_id, base in BASES.items()
        if asset_id in FORECAST_ASSETS
        for i in range(DAYS)
    }
    _write(
        paths.gold("ohlcv_1d"),
        [{"asset_id": a, "date": d, "close": c} for (a, d), c in closes.items()],
    )
    points = []
    for asset_id, miss in (("ousg", 0.5), ("btc", 5.0)):
        for origin in range(DAYS - 21, DAYS - 7):
            day = (T0 + origin * DAY).date()
            generated = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
            for ahead in range(1, 8):
                target = day + dt.timedelta(days=ahead)
                value = closes[(asset_id, target)] + miss
                points.append(
                    {
                        "asset_id": asset_id,
                        "horizon_days": 7,
                        "generated_at": generated,
                        "model_version": f"arima-{asset_id}@test",
                        "target_date": target,
                        "value": value,
                        "lower_80": value - 1,
                        "upper_80": value + 1,
                        "lower_95": value - 2,
                        "upper_95": value + 2,
                    }
                )
    _write(paths.gold("predictions"), points)
    registry = ModelRegistry(open_object_store(settings), "models")
    for asset_id in FORECAST_ASSETS:
        registry.save(
            f"arima-{asset_id}",
            {"model.json": b"{}"},
            metrics={"mase_7d": 0.9},
            params={"reselected": True},
            created_at=now,
        )
    return root
