"""Contract tests of the risk endpoints on both serving stores: real scores from the engine,
loaded through the store, read back over FastAPI's TestClient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from models.risk.batch import score_rows
from models.risk.engine import MODEL_VERSION, score_asset
from models.risk.market import MarketHistory
from pipelines.reference import load_assets
from pipelines.serving.store import ServingStore
from tests.fixtures.accounts import ApiCredentials, authorised_client

DAY = dt.date(2026, 6, 30)


def history(vol: float) -> MarketHistory:
    rng = np.random.default_rng(11)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, vol, 90)))
    return MarketHistory(close, close * 1.01, close * 0.99, 1e-4, 0.0, None)


@pytest.fixture
def client(store: ServingStore, api_credentials: ApiCredentials) -> Iterator[TestClient]:
    assets = load_assets()
    store.migrate()
    store.upsert_assets(assets)
    older = [score_asset(a, history(0.05), DAY - dt.timedelta(days=1)) for a in assets]
    newer = [score_asset(a, history(0.01 if a.asset_id != "eth" else 0.06), DAY) for a in assets]
    store.upsert_risk_scores(score_rows(older))
    # paxg keeps yesterday's score
    store.upsert_risk_scores(score_rows([s for s in newer if s.asset_id != "paxg"]))
    with authorised_client(api_credentials, lambda: store) as test_client:
        yield test_client


def test_one_assets_latest_score_with_sub_scores_and_factors(client: TestClient) -> None:
    response = client.get("/assets/eth/risk")
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == MODEL_VERSION
    assert body["calculated_at"] == "2026-07-01T00:00:00Z"
    assert 1 <= body["composite_score"] <= 100
    for sub in ("market_risk", "credit_risk", "regulatory_risk", "technical_risk"):
        assert 1 <= body[sub] <= 100
    assert body["weights"]["market"] == 0.5  # crypto weights
    assert body["top_factors"][0]["factor"] == "volatility_annualised"
    assert {f["sub_score"] for f in body["factors"]} == {
        "market",
        "credit",
        "regulatory",
        "technical",
    }


def test_unknown_assets_answer_404_and_each_asset_gets_its_newest_score(
    client: TestClient,
) -> None:
    assert client.get("/assets/nope/risk").status_code == 404
    assert client.get("/assets/paxg/risk").json()["calculated_at"] == "2026-06-30T00:00:00Z"


def test_list_filters_sorts_and_pages(client: TestClient) -> None:
    everything = client.get("/risk", params={"limit": 500}).json()
    assert everything["total"] == len(load_assets())
    scores = [s["composite_score"] for s in everything["scores"]]
    assert scores == sorted(scores, reverse=True)

    stable = client.get("/risk", params={"asset_class": "stablecoin", "sort": "asset_id"}).json()
    ids = [s["asset_id"] for s in stable["scores"]]
    assert ids == sorted(ids) and "usdc" in ids and "btc" not in ids

    page = client.get("/risk", params={"sort": "asset_id", "limit": 5, "offset": 5}).json()
    assert [s["asset_id"] for s in page["scores"]] == sorted(
        s["asset_id"] for s in everything["scores"]
    )[5:10]

    high = client.get("/risk", params={"min_score": 50}).json()
    assert all(s["composite_score"] >= 50 for s in high["scores"])
    # An inverted range holds no score: an empty page, not an error the schema does not state.
    inverted = client.get("/risk", params={"min_score": 80, "max_score": 20})
    assert inverted.status_code == 200
    assert (inverted.json()["total"], inverted.json()["scores"]) == (0, [])
    assert client.get("/risk", params={"sort": "nonsense"}).status_code == 422
