"""Contract tests of every endpoint, run against both serving stores (the ``store`` fixture).

Data goes in through the store interface, as the gold loaders write it; requests go through
FastAPI's TestClient with the app's lifespan running.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import pytest
from fastapi.testclient import TestClient

import api.main
from api.schemas import AssetDetail, AssetSummary
from pipelines.contracts.reference import ASSET_CLASSES, Asset
from pipelines.core.errors import StoreUnavailableError
from pipelines.core.settings import ServingSettings, Settings
from pipelines.serving.duckdb_store import DuckDBStore
from pipelines.serving.store import ServingStore, StoreHealth
from pipelines.serving.timescale_store import TimescaleStore
from tests.fixtures.accounts import ApiCredentials, authorised_client
from tests.fixtures.sample_data import DAYS, HOURS, SAMPLE_ASSETS, T0, load_sample, sample_duckdb

OHLCV = "/assets/ousg/ohlcv"


@pytest.fixture
def client(store: ServingStore, api_credentials: ApiCredentials) -> Iterator[TestClient]:
    load_sample(store)
    # `with` runs the lifespan (opens/closes the store)
    with authorised_client(api_credentials, lambda: store) as test_client:
        yield test_client


def _iso(value: str) -> dt.datetime:
    """Parse a response timestamp, insisting it is explicitly UTC (Z or +00:00)."""
    assert value.endswith(("Z", "+00:00")), value
    return dt.datetime.fromisoformat(value)


def _hours(body: dict[str, Any]) -> list[int]:
    """Bar timestamps as hours since T0."""
    return [int((_iso(bar["ts"]) - T0).total_seconds() // 3600) for bar in body["bars"]]


# --- app factory ----------------------------------------------------------------------------


def test_importing_the_app_module_creates_no_app() -> None:
    assert not hasattr(api.main, "app")


def test_openapi_documents_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "RWA Lakehouse API"
    assert {tag["name"] for tag in spec["tags"]} == {
        "health",
        "assets",
        "market data",
        "on-chain",
        "macro",
        "predictions",
        "sentiment",
        "risk",
        "market",
        "auth",
        "account",
        "admin",
        "alerts",
        "events",
        "lineage",
    }
    assert set(spec["paths"]) == {
        "/health",
        "/assets",
        "/assets/{asset_id}",
        "/assets/{asset_id}/ohlcv",
        "/assets/{asset_id}/onchain",
        "/assets/{asset_id}/features",
        "/economic/{series_id}",
        "/assets/{asset_id}/predictions",
        "/predictions",
        "/assets/{asset_id}/sentiment",
        "/assets/{asset_id}/news",
        "/news",
        "/assets/{asset_id}/risk",
        "/risk",
        "/assets/{asset_id}/market",
        "/market/assets",
        "/market/summary",
        "/market/breakdown",
        "/market/history",
        "/auth/register",
        "/auth/login",
        "/auth/verify-2fa",
        "/auth/refresh",
        "/auth/logout",
        "/me",
        "/me/password",
        "/me/export",
        "/me/keys",
        "/me/keys/{key_id}",
        "/me/2fa/enrol",
        "/me/2fa/confirm",
        "/me/2fa/disable",
        "/me/2fa/recovery-codes",
        "/admin/users",
        "/admin/users/{user_id}",
        "/admin/audit",
        "/admin/pipeline",
        "/alerts/rules",
        "/alerts/rules/{rule_id}",
        "/alerts/parse",
        "/alerts/firings",
        "/alerts/deliveries",
        "/alerts/webhook-secret",
        "/events/stream",
        "/assets/{asset_id}/signals",
        "/lineage",
        "/portfolios",
        "/portfolios/{portfolio_id}",
        "/portfolios/{portfolio_id}/allocation",
        "/portfolios/{portfolio_id}/holdings",
        "/portfolios/{portfolio_id}/pnl",
        "/portfolios/{portfolio_id}/risk",
        "/portfolios/{portfolio_id}/transactions",
        "/portfolios/{portfolio_id}/transactions/import",
        "/portfolios/{portfolio_id}/transactions/{transaction_id}",
        "/portfolios/{portfolio_id}/valuation",
        "/reports/assets/{asset_id}.pdf",
        "/reports/portfolios/{portfolio_id}.pdf",
        "/signals",
    }
    # /docs can authorise: both schemes are declared, and every data route asks for one.
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    ohlcv = spec["paths"]["/assets/{asset_id}/ohlcv"]["get"]
    assert ohlcv["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert "security" not in spec["paths"]["/health"]["get"]
    assert {p["name"] for p in ohlcv["parameters"]} == {
        "asset_id",
        "resolution",
        "interval",
        "start",
        "end",
        "limit",
    }
    assert [p["name"] for p in ohlcv["parameters"] if p.get("deprecated")] == ["interval"]
    assert {"200", "401", "404", "422"} <= set(ohlcv["responses"])


def _duckdb_settings(path: Path) -> ServingSettings:
    return Settings(serving_backend="duckdb", duckdb_path=path).serving


def test_default_store_is_the_configured_duckdb_opened_read_only_and_closed(
    tmp_path: Path, api_credentials: ApiCredentials
) -> None:
    path = sample_duckdb(tmp_path / "serving.duckdb")
    test_client = authorised_client(api_credentials, serving=_duckdb_settings(path))
    app = test_client.app
    with test_client:
        assert [a["asset_id"] for a in test_client.get("/assets").json()] == ["btc", "ousg", "usdc"]
        assert "read-only" in app.state.store.health().detail
        # A load beside the open API succeeds, and the API serves it without a restart.
        renamed = SAMPLE_ASSETS[0].model_copy(update={"name": "Renamed while serving"})
        with DuckDBStore(path) as loader:
            loader.upsert_assets([renamed])
        assert test_client.get(f"/assets/{renamed.asset_id}").json()["name"] == renamed.name
    assert not hasattr(app.state, "store")  # the lifespan closed it


def test_startup_fails_clearly_when_the_store_cannot_be_opened(
    tmp_path: Path, api_credentials: ApiCredentials
) -> None:
    serving = _duckdb_settings(tmp_path / "missing.duckdb")
    with (
        pytest.raises(StoreUnavailableError, match=r"missing\.duckdb"),
        authorised_client(api_credentials, serving=serving),
    ):
        pass


# --- health ---------------------------------------------------------------------------------


def test_health_ok(client: TestClient, store: ServingStore) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store_backend"] == store.backend
    assert body["store_ok"] is True
    assert body["version"]


def test_health_degraded_is_503_with_the_same_body(api_credentials: ApiCredentials) -> None:
    # A store whose health check fails: the one case the real stores cannot be made to show
    # on demand. It is a mock of the interface, so any other call is recorded and checked.
    store = create_autospec(ServingStore, instance=True)
    store.health.return_value = StoreHealth(backend="fake", ok=False, detail="connection refused")
    test_client = authorised_client(api_credentials, lambda: store)
    app = test_client.app
    with test_client:
        response = test_client.get("/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "store_backend": "fake",
        "store_ok": False,
        "detail": "connection refused",
        "version": app.version,
    }
    assert [name for name, _, _ in store.method_calls] == ["health", "close"]


@pytest.mark.timescaledb
def test_reads_answer_503_when_the_store_becomes_unreachable(
    timescale_dsn: str, api_credentials: ApiCredentials
) -> None:
    store = TimescaleStore(timescale_dsn, pool_max=2)
    store.migrate()
    with authorised_client(api_credentials, lambda: store) as test_client:
        store.close()  # as if the server went away: every connection attempt now fails
        response = test_client.get("/assets")
        assert response.status_code == 503
        assert response.json()["detail"].startswith("serving store unavailable: TimescaleDB")
        health = test_client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert health.json()["store_ok"] is False


# --- assets ---------------------------------------------------------------------------------


def test_list_assets_returns_summaries_ordered_by_id(client: TestClient) -> None:
    response = client.get("/assets")
    assert response.status_code == 200
    body = response.json()
    assert [a["asset_id"] for a in body] == ["btc", "ousg", "usdc"]
    assert all(set(a) == set(AssetSummary.model_fields) for a in body)
    assert body[1] == {
        "asset_id": "ousg",
        "symbol": "OUSG",
        "name": "Ondo Short-Term US Government Treasuries",
        "asset_class": "tokenized_treasury",
        "blockchain_network": "ethereum",
        "issuer_name": "Ondo Finance",
    }


@pytest.mark.parametrize(
    ("asset_class", "expected"),
    [("stablecoin", ["usdc"]), ("crypto", ["btc"]), ("real_estate", [])],
)
def test_list_assets_filters_by_class(
    client: TestClient, asset_class: str, expected: list[str]
) -> None:
    response = client.get("/assets", params={"asset_class": asset_class})
    assert response.status_code == 200
    assert [a["asset_id"] for a in response.json()] == expected


def test_list_assets_rejects_an_unknown_class_listing_the_allowed_ones(client: TestClient) -> None:
    response = client.get("/assets", params={"asset_class": "equity"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "asset_class"]
    for allowed in ASSET_CLASSES:
        assert f"'{allowed}'" in error["msg"]


def test_get_asset_returns_every_reference_fact(client: TestClient) -> None:
    response = client.get("/assets/ousg")
    assert response.status_code == 200
    assert response.json() == SAMPLE_ASSETS[0].model_dump(mode="json")


def test_asset_detail_covers_every_asset_field() -> None:
    # A new reference field must be added to the API model on purpose, not silently dropped.
    assert set(AssetDetail.model_fields) == set(Asset.model_fields)


def test_get_unknown_asset_is_404(client: TestClient) -> None:
    response = client.get("/assets/xyz")
    assert response.status_code == 404
    assert response.json() == {"detail": "asset 'xyz' not found"}


# --- OHLCV ----------------------------------------------------------------------------------


def test_ohlcv_defaults_to_hourly_bars_in_time_order(client: TestClient) -> None:
    response = client.get(OHLCV)
    assert response.status_code == 200
    body = response.json()
    assert body["asset_id"] == "ousg"
    assert body["resolution"] == body["interval"] == "1h"
    assert body["start"] is None
    assert body["end"] is None
    assert body["count"] == HOURS == len(body["bars"])
    assert _hours(body) == list(range(HOURS))
    assert body["bars"][0] == {
        "ts": body["bars"][0]["ts"],
        "open": 100.0,
        "high": 100.5,
        "low": 99.5,
        "close": 100.25,
        "volume": 1000.0,
    }


@pytest.mark.parametrize("parameter", ["resolution", "interval"])
def test_ohlcv_daily_resolution(client: TestClient, parameter: str) -> None:
    body = client.get("/assets/btc/ohlcv", params={parameter: "1d"}).json()
    assert body["resolution"] == "1d"
    assert body["count"] == DAYS
    assert [_iso(bar["ts"]) for bar in body["bars"]] == [
        T0 + dt.timedelta(days=i) for i in range(DAYS)
    ]
    assert body["bars"][0]["open"] == 42_000.0


def test_ohlcv_window_is_half_open(client: TestClient) -> None:
    params = {"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T12:00:00Z"}
    body = client.get(OHLCV, params=params).json()
    assert _hours(body) == [10, 11]
    assert _iso(body["start"]) == T0 + dt.timedelta(hours=10)
    assert _iso(body["end"]) == T0 + dt.timedelta(hours=12)


def test_ohlcv_open_ended_windows(client: TestClient) -> None:
    assert _hours(client.get(OHLCV, params={"start": "2024-01-02T20:00:00Z"}).json()) == [
        44,
        45,
        46,
        47,
    ]
    assert _hours(client.get(OHLCV, params={"end": "2024-01-01T03:00:00Z"}).json()) == [0, 1, 2]


def test_ohlcv_dates_are_midnight_utc(client: TestClient) -> None:
    body = client.get(OHLCV, params={"start": "2024-01-02", "end": "2024-01-02T03:00:00Z"}).json()
    assert _hours(body) == [24, 25, 26]
    assert body["start"] in ("2024-01-02T00:00:00Z", "2024-01-02T00:00:00+00:00")


def test_ohlcv_accepts_rfc3339_variants_and_clamps_instants_beyond_datetime(
    client: TestClient,
) -> None:
    # Lower-case separators and any number of fraction digits are RFC 3339 too.
    body = client.get(OHLCV, params={"start": "2024-01-02t22:00:00.1234567z"}).json()
    assert _hours(body) == [47]
    # Before 0001-01-01 UTC or after 9999-12-31 UTC: still valid date-times, nothing there.
    params = {"start": "0001-01-01T00:00:00+05:00", "end": "9999-12-31T23:00:00-05:00"}
    everything = client.get(OHLCV, params=params)
    assert everything.status_code == 200
    assert everything.json()["count"] == HOURS


def test_ohlcv_converts_offsets_to_utc(client: TestClient) -> None:
    # 12:00+02:00 is 10:00Z; the response echoes the window in UTC.
    params = {"start": "2024-01-01T12:00:00+02:00", "end": "2024-01-01T07:00:00-05:00"}
    body = client.get(OHLCV, params=params).json()
    assert _hours(body) == [10, 11]
    assert _iso(body["start"]) == T0 + dt.timedelta(hours=10)


def test_ohlcv_accepts_an_unencoded_plus_in_the_offset(client: TestClient) -> None:
    # A "+" typed into a URL by hand arrives as a space; it is still read as an offset.
    body = client.get(
        f"{OHLCV}?start=2024-01-01T12:00:00+02:00&end=2024-01-01T13:00:00+02:00"
    ).json()
    assert _hours(body) == [10]


def test_ohlcv_limit_keeps_the_newest_bars_in_time_order(client: TestClient) -> None:
    body = client.get(OHLCV, params={"limit": 3}).json()
    assert body["count"] == 3
    assert _hours(body) == [HOURS - 3, HOURS - 2, HOURS - 1]


def test_ohlcv_empty_window_is_an_empty_list(client: TestClient) -> None:
    params = {"start": "2030-01-01", "end": "2030-01-02"}
    body = client.get(OHLCV, params=params).json()
    assert body["count"] == 0
    assert body["bars"] == []
    # Known asset without bars at all: also 200 and empty, not 404.
    assert client.get("/assets/usdc/ohlcv").json()["bars"] == []


def test_ohlcv_unknown_asset_is_404(client: TestClient) -> None:
    response = client.get("/assets/xyz/ohlcv", params={"interval": "1d"})
    assert response.status_code == 404
    assert response.json() == {"detail": "asset 'xyz' not found"}


@pytest.mark.parametrize("parameter", ["resolution", "interval"])
@pytest.mark.parametrize("resolution", ["15m", "1D", "", "week"])
def test_ohlcv_rejects_an_unknown_resolution_naming_the_allowed_ones(
    client: TestClient, resolution: str, parameter: str
) -> None:
    response = client.get(OHLCV, params={parameter: resolution})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", parameter]
    for allowed in ("1m", "5m", "1h", "1d", "1w"):
        assert f"'{allowed}'" in error["msg"]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-01-01T12:00:00Z", "2024-01-01T12:00:00Z"),
        ("2024-01-02", "2024-01-01"),
        ("2024-01-01T12:00:00Z", "2024-01-01T13:00:00+02:00"),  # 11:00Z: before start in UTC
    ],
)
def test_ohlcv_window_with_start_not_before_end_is_empty(
    client: TestClient, start: str, end: str
) -> None:
    # [start, end) holds no instant: answered empty, as the parameter description says.
    response = client.get(OHLCV, params={"start": start, "end": end})
    assert response.status_code == 200
    assert (response.json()["count"], response.json()["bars"]) == (0, [])


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-01",
        "2024-02-30",
        "2024-01-01T25:00:00Z",
        "2024-01-01T12:00",  # naive: its zone would be a guess
        "2024-01-01T12:00:00",
        "0.5",  # Unix times are not date-times
        "0",
        "-99999999999",
        " 2024-01-01",
    ],
)
def test_ohlcv_rejects_anything_but_an_rfc3339_date_time_or_a_date(
    client: TestClient, value: str
) -> None:
    response = client.get(OHLCV, params={"start": value})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "start"]
    assert error["msg"].startswith("Input should be an RFC 3339 date-time with an offset")


@pytest.mark.parametrize("limit", ["0", "-1", "10001", "many"])
def test_ohlcv_rejects_a_limit_out_of_range(client: TestClient, limit: str) -> None:
    response = client.get(OHLCV, params={"limit": limit})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "limit"]


def test_ohlcv_accepts_the_limit_bounds(client: TestClient) -> None:
    assert client.get(OHLCV, params={"limit": 1}).json()["count"] == 1
    assert client.get(OHLCV, params={"limit": 10_000}).json()["count"] == HOURS
