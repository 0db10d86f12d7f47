"""Missing is missing, never a fake number: what the store declares nullable is served as JSON
``null`` and documented nullable, what it declares required is documented required and is
never answered ``null`` (not even for a NaN or an infinity that got into the store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.main import create_app
from api.market_schemas import MarketAggregateOut, MarketDayOut
from api.schemas import (
    FeaturesDayOut,
    ForecastSummaryOut,
    NewsArticleOut,
    ObservationOut,
    OhlcvBarOut,
    OnchainDayOut,
    PredictionPointOut,
    RiskScoreOut,
    SentimentDayOut,
)
from api.signal_schemas import SignalOut
from pipelines.contracts.served import (
    ECONOMIC,
    FEATURES,
    MARKET,
    MARKET_AGGREGATE_SCHEMA,
    NEWS,
    OHLCV,
    ONCHAIN,
    PREDICTIONS,
    RISK_SCORES,
    SENTIMENT,
    SIGNALS,
    ServedTable,
)
from pipelines.core.settings import Settings
from pipelines.serving.sql_store import SqlStore
from pipelines.serving.store import ServingStore
from tests.fixtures.accounts import ApiCredentials, authorised_client
from tests.fixtures.sample_data import DAY, SAMPLE_ASSETS, T0, bars

#: Each response model of rows of a served table. Their shared field names are the columns.
RESPONSE_MODELS: list[tuple[type[BaseModel], ServedTable]] = [
    (OhlcvBarOut, OHLCV),
    (OnchainDayOut, ONCHAIN),
    (FeaturesDayOut, FEATURES),
    (SentimentDayOut, SENTIMENT),
    (NewsArticleOut, NEWS),
    (ObservationOut, ECONOMIC),
    (PredictionPointOut, PREDICTIONS),
    (ForecastSummaryOut, PREDICTIONS),
    (RiskScoreOut, RISK_SCORES),
    (SignalOut, SIGNALS),
    (MarketDayOut, MARKET),
    (MarketAggregateOut, ServedTable("market_aggregates", "", MARKET_AGGREGATE_SCHEMA, ("ts",))),
]


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return create_app(
        store_factory=lambda: pytest.fail("no store needed"), serving=Settings().serving
    ).openapi()


def _nullable(property_schema: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in property_schema.get("anyOf", []))


@pytest.mark.parametrize(
    ("model", "table"), RESPONSE_MODELS, ids=[model.__name__ for model, _ in RESPONSE_MODELS]
)
def test_the_openapi_document_says_null_exactly_where_the_store_allows_it(
    openapi: dict[str, Any], model: type[BaseModel], table: ServedTable
) -> None:
    schema = openapi["components"]["schemas"][model.__name__]
    columns = [name for name in schema["properties"] if name in table.schema.names]
    assert len(columns) >= 2, "the model shares no columns with the table: wrong pairing?"
    documented = {name: _nullable(schema["properties"][name]) for name in columns}
    declared = {name: table.schema.field(name).nullable for name in columns}
    assert documented == declared
    assert set(schema.get("required", [])) >= {name for name, null in declared.items() if not null}


@pytest.fixture
def client(store: ServingStore, api_credentials: ApiCredentials) -> Iterator[TestClient]:
    store.upsert_assets(SAMPLE_ASSETS)
    with authorised_client(
        api_credentials, lambda: store, raise_server_exceptions=False
    ) as test_client:
        yield test_client


def test_bars_without_volume_are_served_with_volume_null(
    client: TestClient, store: ServingStore
) -> None:
    daily = bars("btc", "1d", 3, step=DAY, base=42_000.0)
    volume = pa.array([None, 5.0, None], pa.float64())
    store.upsert_ohlcv(daily.set_column(daily.column_names.index("volume"), "volume", volume))
    store.refresh_aggregates()
    body = client.get("/assets/btc/ohlcv", params={"resolution": "1d"}).json()
    assert [bar["volume"] for bar in body["bars"]] == [None, 5.0, None]
    assert [bar["high"] for bar in body["bars"]] == [42_000.5, 42_001.5, 42_002.5]
    weekly = client.get("/assets/btc/ohlcv", params={"resolution": "1w"}).json()
    assert [bar["volume"] for bar in weekly["bars"]] == [None]


def test_a_non_finite_number_in_the_store_is_never_served_as_null(
    client: TestClient, store: ServingStore
) -> None:
    # The loader refuses it; written past the loader (an older version, by hand), the API
    # must still not claim "high": null where its schema says a required number.
    store.upsert_ohlcv(bars("btc", "1h", 2))
    assert isinstance(store, SqlStore)
    with store._transaction() as cur:
        infinity = "CAST('Infinity' AS DOUBLE PRECISION)"
        cur.execute(f"UPDATE ohlcv SET high = {infinity} WHERE ts > '2024-01-01 00:30:00+00'")
    response = client.get("/assets/btc/ohlcv")
    assert response.status_code == 500
    assert "null" not in response.text
    assert (
        client.get("/assets/btc/ohlcv", params={"end": (T0 + DAY / 24).isoformat()}).status_code
        == 200
    )
