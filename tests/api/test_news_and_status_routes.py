"""``GET /news``, ``GET /assets/{asset_id}/news`` (on both serving stores) and the admins'
``GET /admin/pipeline`` (its answer on a small lake, and a 403 for anyone else)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.accounts.principal import Role
from pipelines.core.settings import Settings
from pipelines.serving.duckdb_store import DuckDBStore
from pipelines.serving.store import ServingStore
from tests.fixtures.accounts import ApiCredentials, accounts_settings, authorised_client, provision
from tests.fixtures.sample_data import SAMPLE_ASSETS, sample_duckdb
from tests.web.dashboard_data import build_lake, news_rows


@pytest.fixture
def client(store: ServingStore, api_credentials: ApiCredentials) -> Iterator[TestClient]:
    store.upsert_assets(SAMPLE_ASSETS)
    store.upsert_news(news_rows())
    with authorised_client(api_credentials, lambda: store) as test_client:
        yield test_client


def test_the_latest_news_names_each_article_once_with_its_assets(client: TestClient) -> None:
    articles = client.get("/news", params={"limit": 2}).json()["articles"]
    assert [a["article_id"] for a in articles] == ["n2", "n1"]
    assert articles[0]["asset_ids"] == ["btc", "ousg"]
    assert articles[0]["sentiment_score"] == 0.5
    assert articles[0]["ts"].endswith(("Z", "+00:00"))
    assert client.get("/news", params={"limit": 0}).status_code == 422
    assert client.get("/news", params={"limit": 101}).status_code == 422


def test_the_news_of_one_asset(client: TestClient) -> None:
    body = client.get("/assets/ousg/news", params={"limit": 2}).json()
    assert body["asset_id"] == "ousg" and body["count"] == 2
    assert [a["article_id"] for a in body["articles"]] == ["n1", "n2"]  # oldest first
    assert client.get("/assets/usdc/news").json()["articles"] == []
    missing = client.get("/assets/nope/news")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert client.get("/assets/ousg/news", params={"start": "yesterday"}).status_code == 422


def test_the_pipeline_status_is_for_admins_only(tmp_path: Path) -> None:
    lake = build_lake(tmp_path / "lake")
    settings = accounts_settings(tmp_path)
    admin = provision(settings, Role.ADMIN)
    analyst = provision(settings, Role.ENTERPRISE)
    with_lake = Settings(
        ops_db_url=settings.ops_db.url,
        jwt_key_file=settings.auth.jwt_key_file,
        access_token_minutes=settings.auth.access_token_minutes,
        lake_root=str(lake),
    )
    admin = ApiCredentials(
        with_lake, admin.email, admin.password, admin.user_id, admin.access_token
    )
    served = sample_duckdb(tmp_path / "serving.duckdb")
    with authorised_client(admin, lambda: DuckDBStore(served)) as client:
        status = client.get("/admin/pipeline").json()
        refused = client.get("/admin/pipeline", headers=analyst.headers)
    tables = {(t["layer"], t["table"]): t for t in status["tables"]}
    assert tables[("gold", "ohlcv_1d")]["rows"] == 240
    assert not tables[("gold", "features_daily")]["exists"]
    assert status["quarantine"]["total"] == 3
    assert status["quarantine"]["reasons"][0] == {
        "dataset": "prices",
        "reason": "high below low",
        "rows": 2,
    }
    models = {m["asset_id"]: m for m in status["models"]}
    assert models["btc"]["degraded"] and not models["ousg"]["degraded"]
    assert models["ousg"]["live_coverage95"] == 1.0
    assert {w["coverage95"] for w in status["accuracy_by_week"]} == {0.5}
    assert refused.status_code == 403
