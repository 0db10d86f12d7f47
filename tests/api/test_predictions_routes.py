"""Contract tests of ``GET /assets/{id}/predictions`` on both serving stores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from models.forecast.job import prediction_rows
from models.forecast.models import NaiveForecaster
from pipelines.core.settings import Settings
from pipelines.reference import load_assets
from pipelines.serving.base import ServingStore

LAST = dt.date(2026, 6, 30)


@pytest.fixture
def client(store: ServingStore) -> Iterator[TestClient]:
    store.migrate()
    store.upsert_assets(load_assets())
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.02, 120)))
    forecast = NaiveForecaster().forecast(closes, 30)
    for days_back, version in ((1, "arima-btc@old"), (0, "arima-btc@new")):
        last = LAST - dt.timedelta(days=days_back)
        generated = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
        store.upsert_predictions(prediction_rows("btc", forecast, last, generated, version))
    with TestClient(create_app(store_factory=lambda: store, settings=Settings())) as test_client:
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
