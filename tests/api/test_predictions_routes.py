"""Contract tests of ``GET /assets/{id}/predictions`` and ``GET /predictions`` on both serving
stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from models.forecast.batch import prediction_rows
from models.forecast.forecasters import Forecast, NaiveForecaster
from pipelines.contracts.served import OHLCV_SCHEMA
from pipelines.reference import load_assets
from pipelines.serving.store import ServingStore
from tests.fixtures.accounts import ApiCredentials, authorised_client

LAST = dt.date(2026, 6, 30)


@pytest.fixture
def client(store: ServingStore, api_credentials: ApiCredentials) -> Iterator[TestClient]:
    store.migrate()
    store.upsert_assets(load_assets())
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.02, 120)))
    forecast = NaiveForecaster().forecast(closes, 30)
    for days_back, version in ((1, "arima-btc@old"), (0, "arima-btc@new")):
        last = LAST - dt.timedelta(days=days_back)
        generated = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
        store.upsert_predictions(prediction_rows("btc", forecast, last, generated, version))
    # ETH and USDC forecasts made from a served last close of 100 and 1: +10% and 0%
    generated = dt.datetime.combine(LAST + dt.timedelta(days=1), dt.time(), dt.UTC)
    for asset_id, close, target in (("eth", 100.0, 110.0), ("usdc", 1.0, 1.0)):
        path = Forecast(
            np.full(30, target),
            {0.8: np.full(30, target * 0.9), 0.95: np.full(30, target * 0.8)},
            {0.8: np.full(30, target * 1.1), 0.95: np.full(30, target * 1.2)},
        )
        store.upsert_predictions(prediction_rows(asset_id, path, LAST, generated, "m@1"))
        store.upsert_ohlcv(daily_bar(asset_id, LAST, close))
    with authorised_client(api_credentials, lambda: store) as test_client:
        yield test_client


@pytest.mark.parametrize("horizon", [7, 30])
def test_latest_run_with_intervals(client: TestClient, horizon: int) -> None:
    response = client.get("/assets/btc/predictions", params={"horizon": horizon})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "arima-btc@new"
    assert body["generated_at"] == "2026-07-01T00:00:00Z"
    points = body["predictions"]
    assert len(points) == horizon
    assert points[0]["target_date"] == "2026-07-01"
    for p in points:
        assert p["lower_95"] <= p["lower_80"] <= p["value"] <= p["upper_80"] <= p["upper_95"]


def test_bad_horizon_unknown_asset_and_no_forecast(client: TestClient) -> None:
    assert client.get("/assets/btc/predictions", params={"horizon": 14}).status_code == 422
    assert client.get("/assets/nope/predictions").status_code == 404
    empty = client.get("/assets/ousg/predictions").json()
    assert empty["predictions"] == [] and empty["model_version"] is None


def daily_bar(asset_id: str, day: dt.date, close: float) -> pa.Table:
    ts = dt.datetime.combine(day, dt.time(), dt.UTC)
    return pa.Table.from_pylist(
        [
            {
                "asset_id": asset_id,
                "resolution": "1d",
                "ts": ts,
                "open": close,
                "high": close,
                "low": close,
                "close": close,
                "volume": 1.0,
            }
        ],
        schema=OHLCV_SCHEMA,
    )


def test_list_ranks_assets_by_expected_return_and_pages(client: TestClient) -> None:
    body = client.get("/predictions", params={"horizon": 30}).json()
    assert body["total"] == 3
    ids = [f["asset_id"] for f in body["forecasts"]]
    assert ids == ["eth", "usdc", "btc"]  # btc has no served close: no expected return, last
    eth = body["forecasts"][0]
    assert eth["expected_return"] == pytest.approx(0.10)
    assert eth["target_date"] == "2026-07-30" and eth["last_close"] == 100.0
    stable = client.get("/predictions", params={"asset_class": "stablecoin"}).json()
    assert [f["asset_id"] for f in stable["forecasts"]] == ["usdc"]
    page = client.get("/predictions", params={"sort": "asset_id", "limit": 1, "offset": 1}).json()
    assert [f["asset_id"] for f in page["forecasts"]] == ["eth"]
    assert client.get("/predictions", params={"sort": "value"}).status_code == 422
