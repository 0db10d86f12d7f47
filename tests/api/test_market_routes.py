"""The market analytics endpoints over HTTP: one real server (uvicorn over a DuckDB store of
gold-shaped market rows) for the module, an admin and an explorer calling it. The KPIs are
checked against an independent computation over the same rows; the aggregates themselves are
checked against pandas on both stores in tests/pipelines/serving/test_store_market.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from api.accounts.principal import Role
from models.risk.batch import score_rows
from models.risk.engine import score_asset
from models.risk.market import MarketHistory
from pipelines.contracts.reference import Evidence
from pipelines.contracts.served import SENTIMENT
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.market import MARKET_DAYS, market_rows
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0
from tests.fixtures.serving import series_rows

pytestmark = pytest.mark.slow

LAST_DAY = (T0 + (MARKET_DAYS - 1) * DAY).date()
WEEK_BEFORE = LAST_DAY - dt.timedelta(days=7)
#: OUSG's evidence as the reference data would state it: two flags known, the others not.
OUSG_EVIDENCE = Evidence(redeemable=True, transferable=False, sources=["https://ondo.finance"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("market")


@pytest.fixture(scope="module")
def users(workdir: Path) -> dict[Role, ApiCredentials]:
    settings = accounts_settings(workdir)
    return {role: provision(settings, role) for role in (Role.ADMIN, Role.EXPLORER)}


def _load(path: Path) -> None:
    assets = [
        a.model_copy(update={"evidence": OUSG_EVIDENCE}) if a.asset_id == "ousg" else a
        for a in SAMPLE_ASSETS
    ]
    closes = 100 * np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.02, 120)))
    history = MarketHistory(closes, closes * 1.01, closes * 0.99, 1e-4, 0.0, None)
    with DuckDBStore(path) as store:
        store.migrate()
        store.upsert_assets(assets)
        store.upsert_market(market_rows())
        store.upsert_risk_scores(score_rows([score_asset(a, history, LAST_DAY) for a in assets]))
        news_start = T0 + (MARKET_DAYS - 3) * DAY
        store.upsert_sentiment(
            series_rows(SENTIMENT, 3, {"asset_id": "ousg"}, start=news_start, base=0.1)
        )


@pytest.fixture(scope="module")
def base_url(workdir: Path, users: dict[Role, ApiCredentials]) -> Iterator[str]:
    path = workdir / "serving.duckdb"
    _load(path)
    with running_server(path, workdir, users[Role.ADMIN]) as url:
        yield url


@pytest.fixture(scope="module")
def admin(base_url: str, users: dict[Role, ApiCredentials]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=users[Role.ADMIN].headers, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def explorer(base_url: str, users: dict[Role, ApiCredentials]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=users[Role.EXPLORER].headers, timeout=60) as c:
        yield c


def _rows_of(day: dt.date) -> pd.DataFrame:
    frame = market_rows().to_pandas()
    return frame[frame["ts"].dt.date == day].set_index("asset_id")


def _ok(client: httpx.Client, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_kpi_strip_equals_an_independent_computation(admin: httpx.Client) -> None:
    body = _ok(admin, "/market/summary")
    assert body["date"] == LAST_DAY.isoformat()
    now, before = _rows_of(LAST_DAY), _rows_of(WEEK_BEFORE)
    # Of the sample assets only OUSG is a real-world asset; BTC's feed has stopped (stale).
    ousg, ousg_before = now.loc["ousg"], before.loc["ousg"]
    assert body["total_value_usd"]["value"] == pytest.approx(ousg["value_usd"])
    assert body["total_value_usd"]["value_7d_ago"] == pytest.approx(ousg_before["value_usd"])
    assert body["total_value_usd"]["change_7d_pct"] == pytest.approx(
        ousg["value_usd"] / ousg_before["value_usd"] - 1
    )
    assert body["holders"]["change_7d"] == ousg["holders"] - ousg_before["holders"]
    assert body["assets"]["value"] == 1
    assert body["treasury_yield_7d"]["value"] == pytest.approx(ousg["yield_7d"])
    assert body["treasury_spread"]["value"] == pytest.approx(ousg["yield_7d"] - 0.0525)
    assert body["stablecoin_supply_usd"]["value"] == pytest.approx(
        now.loc["usdc"]["market_value_usd"]
    )
    assert body["stale_assets"] == 1
    day_body = _ok(admin, "/market/summary", date="2024-01-02")
    assert day_body["treasury_yield_7d"]["value"] is None  # no yield in the first week
    assert day_body["total_value_usd"]["value_7d_ago"] is None  # no rows before T0


def test_the_assets_table_joins_changes_risk_sentiment_and_evidence(
    admin: httpx.Client,
) -> None:
    body = _ok(admin, "/market/assets")
    assert (body["date"], body["total"], body["withheld"]) == (LAST_DAY.isoformat(), 3, [])
    rows = {row["asset_id"]: row for row in body["assets"]}
    ousg, before = rows["ousg"], _rows_of(WEEK_BEFORE).loc["ousg"]
    assert ousg["price_change_7d"] == pytest.approx(ousg["price_usd"] / before["price_usd"] - 1)
    assert 1 <= ousg["risk_score"] <= 100
    assert ousg["sentiment_7d"] == pytest.approx((0.1 + 0.2 + 0.3) / 3)
    assert ousg["articles_7d"] == 6
    assert ousg["evidence"] == OUSG_EVIDENCE.model_dump() and ousg["kyc_required"] is True
    assert rows["usdc"]["evidence"]["attestations"] is None  # unknown, shown as unknown
    assert (rows["btc"]["stale"], rows["btc"]["as_of"]) == (True, "2024-01-31")
    assert rows["btc"]["sentiment_7d"] is None and rows["btc"]["articles_7d"] == 0


def test_the_assets_table_filters_sorts_and_pages(admin: httpx.Client) -> None:
    values = [r["asset_id"] for r in _ok(admin, "/market/assets", sort="-value_usd")["assets"]]
    assert values == ["btc", "usdc", "ousg"]
    # Unknown values sort last whichever the direction.
    by_yield = [r["asset_id"] for r in _ok(admin, "/market/assets", sort="yield_7d")["assets"]]
    assert by_yield[0] == "ousg"
    page = _ok(admin, "/market/assets", sort="asset_id", limit=1, offset=1)
    assert (page["total"], [r["asset_id"] for r in page["assets"]]) == (3, ["ousg"])
    stale = _ok(admin, "/market/assets", stale="true")["assets"]
    assert [r["asset_id"] for r in stale] == ["btc"]
    ethereum = _ok(admin, "/market/assets", network="ethereum", asset_class="stablecoin")
    assert [r["asset_id"] for r in ethereum["assets"]] == ["usdc"]
    assert _ok(admin, "/market/assets", issuer="Nobody")["total"] == 0
    assert _ok(admin, "/market/assets", date="2030-01-01")["assets"] == []


def test_an_explorer_gets_the_table_without_risk_scores(explorer: httpx.Client) -> None:
    body = _ok(explorer, "/market/assets")
    assert body["withheld"] == ["risk_score"]
    assert {row["risk_score"] for row in body["assets"]} == {None}
    assert _ok(explorer, "/market/summary")["date"] == LAST_DAY.isoformat()


def test_breakdown_and_history_keep_stale_values_apart(admin: httpx.Client) -> None:
    breakdown = _ok(admin, "/market/breakdown", by="asset_class")
    groups = {g["group"]: g for g in breakdown["groups"]}
    assert groups["crypto"]["stale_assets"] == 1 and groups["crypto"]["value_usd"] is None
    treasury = groups["tokenized_treasury"]
    assert treasury["value_usd"] == pytest.approx(_rows_of(LAST_DAY).loc["ousg"]["value_usd"])
    weekly = _ok(admin, "/market/history", by="all", interval="week", limit=2)
    assert weekly["count"] == 2
    assert [b["ts"] for b in weekly["buckets"]] == ["2024-01-29T00:00:00Z", "2024-02-05T00:00:00Z"]
    monthly = _ok(admin, "/market/history", by="network", interval="month", start="2024-01-15")
    assert {(b["ts"][:7], b["group"]) for b in monthly["buckets"]} == {
        ("2024-01", "bitcoin"),
        ("2024-01", "ethereum"),
        ("2024-02", "bitcoin"),
        ("2024-02", "ethereum"),
    }


def test_one_assets_series_and_the_refusals(admin: httpx.Client, base_url: str) -> None:
    series = _ok(admin, "/assets/ousg/market", start="2024-01-10", end="2024-01-13")
    assert [d["ts"][:10] for d in series["days"]] == ["2024-01-10", "2024-01-11", "2024-01-12"]
    assert admin.get("/assets/nope/market").status_code == 404
    assert _ok(admin, "/assets/usdc/market", end="2024-01-02")["days"] == []
    refusals = {
        "/market/assets?sort=bogus": "sort",
        "/market/assets?date=2024-02-30": "date",
        "/market/assets?limit=0": "limit",
        "/market/summary?date=2024-01-01T00:00:00Z": "date",
        "/market/breakdown?by=chain": "by",
        "/market/history?interval=year": "interval",
    }
    for path, field in refusals.items():
        response = admin.get(path)
        assert response.status_code == 422, path
        assert response.json()["detail"][0]["loc"][-1] == field
    assert httpx.get(f"{base_url}/market/summary", timeout=60).status_code == 401
