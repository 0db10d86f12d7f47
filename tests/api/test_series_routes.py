"""Contract tests of the time-series endpoints beyond 1h/1d bars (1m/5m/1w bars, on-chain,
features, macro), run against both serving stores through FastAPI's TestClient."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.schemas import FeaturesDayOut, ObservationOut, OnchainDayOut
from pipelines.contracts.served import FEATURES, ONCHAIN, SENTIMENT, ServedTable
from pipelines.serving.store import ServingStore
from tests.fixtures.accounts import ApiCredentials, authorised_client
from tests.fixtures.sample_data import T0
from tests.fixtures.serving import DAYS_OF_SERIES, SENTIMENT_BASE, load_series, series_rows


@pytest.fixture
def client(store: ServingStore, api_credentials: ApiCredentials) -> Iterator[TestClient]:
    load_series(store)
    with authorised_client(api_credentials, lambda: store) as test_client:
        yield test_client


def day_numbers(rows: list[dict[str, object]]) -> list[int]:
    return [(dt.datetime.fromisoformat(str(row["ts"])) - T0).days for row in rows]


# --- OHLCV resolutions ----------------------------------------------------------------------


@pytest.mark.parametrize(("resolution", "count"), [("1m", 30), ("5m", 6), ("1w", 1)])
def test_ohlcv_serves_intraday_and_weekly_bars(
    client: TestClient, resolution: str, count: int
) -> None:
    body = client.get("/assets/ousg/ohlcv", params={"resolution": resolution}).json()
    assert (body["resolution"], body["count"]) == (resolution, count)


def test_weekly_bars_aggregate_the_daily_ones(client: TestClient) -> None:
    daily = client.get("/assets/btc/ohlcv", params={"resolution": "1d"}).json()["bars"]
    (week,) = client.get("/assets/btc/ohlcv", params={"resolution": "1w"}).json()["bars"]
    assert week["open"] == daily[0]["open"]
    assert week["close"] == daily[-1]["close"]
    assert week["high"] == max(bar["high"] for bar in daily)
    assert week["volume"] == pytest.approx(sum(bar["volume"] for bar in daily))


# --- on-chain and features ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key", "table", "base"),
    [
        ("onchain", "metrics", ONCHAIN, 0.1),
        ("features", "features", FEATURES, 0.1),
        ("sentiment", "days", SENTIMENT, SENTIMENT_BASE),
    ],
)
def test_daily_series_window_limit_and_values(
    client: TestClient, path: str, key: str, table: ServedTable, base: float
) -> None:
    url = f"/assets/ousg/{path}"
    everything = client.get(url).json()
    assert everything["count"] == DAYS_OF_SERIES
    rows = series_rows(table, DAYS_OF_SERIES, {"asset_id": "ousg"}, base=base)
    expected = rows.drop_columns(["asset_id"])
    first = everything[key][0]
    assert {k: v for k, v in first.items() if k != "ts"} == {
        k: v for k, v in expected.to_pylist()[0].items() if k != "ts"
    }
    window = client.get(url, params={"start": "2024-01-03", "end": "2024-01-06"}).json()
    assert day_numbers(window[key]) == [2, 3, 4]
    assert window["start"].startswith("2024-01-03T00:00:00")
    newest = client.get(url, params={"limit": 2}).json()
    assert day_numbers(newest[key]) == [DAYS_OF_SERIES - 2, DAYS_OF_SERIES - 1]


@pytest.mark.parametrize("path", ["onchain", "features", "sentiment", "ohlcv"])
def test_unknown_asset_is_404_and_known_asset_without_data_is_empty(
    client: TestClient, path: str
) -> None:
    missing = client.get(f"/assets/xyz/{path}")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "asset 'xyz' not found"}
    empty = client.get(f"/assets/usdc/{path}", params={"resolution": "1m"})
    assert empty.status_code == 200
    assert empty.json()["count"] == 0


@pytest.mark.parametrize(
    "path",
    ["/assets/ousg/onchain", "/assets/ousg/features", "/assets/ousg/sentiment", "/economic/DGS10"],
)
@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"start": "1704412800"}, "start"),  # a Unix time is no date-time
        ({"end": "2024-01-05T00:00"}, "end"),  # a naive datetime's zone would be a guess
        ({"start": "soon"}, "start"),
        ({"limit": "0"}, "limit"),
        ({"limit": "10001"}, "limit"),
    ],
)
def test_series_endpoints_validate_the_window(
    client: TestClient, path: str, params: dict[str, str], loc: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", loc]


def test_response_models_cover_every_served_column() -> None:
    # A new served column must be added to the API on purpose, not silently dropped.
    assert set(OnchainDayOut.model_fields) == set(ONCHAIN.schema.names) - {"asset_id"}
    assert set(FeaturesDayOut.model_fields) == set(FEATURES.schema.names) - {"asset_id"}
    assert set(ObservationOut.model_fields) == {"ts", "value", "realtime_start"}


# --- economic -------------------------------------------------------------------------------


def test_economic_series_of_one_region_needs_no_region(client: TestClient) -> None:
    body = client.get("/economic/DGS10").json()
    assert (body["series_id"], body["region"], body["count"]) == ("DGS10", "USA", 5)
    assert (body["frequency"], body["units"]) == ("v4", "v4")  # those of the latest row
    assert body["observations"][0] == {
        "ts": body["observations"][0]["ts"],
        "value": 0.1,
        "realtime_start": "2024-01-01",
    }
    assert day_numbers(body["observations"]) == [0, 1, 2, 3, 4]
    window = client.get("/economic/DGS10", params={"start": "2024-01-02", "limit": 2}).json()
    assert day_numbers(window["observations"]) == [3, 4]


def test_economic_series_of_several_regions_takes_a_region(client: TestClient) -> None:
    assert client.get("/economic/CPI", params={"region": "DEU"}).json()["count"] == 2
    # Without a region: 300 Multiple Choices listing them (a schema-valid request is not
    # refused with a rule the schema cannot state).
    ambiguous = client.get("/economic/CPI")
    assert ambiguous.status_code == 300
    assert ambiguous.json()["regions"] == ["DEU", "USA"]
    assert "choose one of ['DEU', 'USA']" in ambiguous.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["/assets/ousg/onchain", "/assets/ousg/features", "/assets/ousg/sentiment", "/economic/DGS10"],
)
def test_series_window_with_start_not_before_end_is_empty(client: TestClient, path: str) -> None:
    response = client.get(path, params={"start": "2024-01-05", "end": "2024-01-05"})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_economic_unknown_series_or_region_is_404(client: TestClient) -> None:
    unknown = client.get("/economic/NOPE")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "economic series 'NOPE' not found"}
    elsewhere = client.get("/economic/DGS10", params={"region": "FRA"})
    assert elsewhere.status_code == 404
    assert "no data for region 'FRA'; regions: ['USA']" in elsewhere.json()["detail"]
