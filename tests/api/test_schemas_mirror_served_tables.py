"""The API's response schemas against the served tables' declarations
(``pipelines.contracts.served``): a schema that serves rows of a table has a field for each of
the table's columns (of the matching type) except those its enclosing response states once, and
no other field but the ones it derives. A measure added to a table therefore fails here until
the API serves it on purpose. (Nullability is held to the same declarations by
``test_served_nulls.py``.)"""

from __future__ import annotations

import datetime as dt
import types
import typing
from typing import Annotated, Any, get_args, get_origin

import pyarrow as pa
import pytest
from pydantic import BaseModel

from api.market_schemas import (
    MarketAggregateOut,
    MarketAssetOut,
    MarketDayOut,
    MarketSeriesResponse,
)
from api.schemas import (
    EconomicResponse,
    FeaturesDayOut,
    FeaturesResponse,
    ForecastSummaryOut,
    NewsArticleOut,
    NewsResponse,
    ObservationOut,
    OhlcvBarOut,
    OhlcvResponse,
    OnchainDayOut,
    OnchainResponse,
    PredictionPointOut,
    PredictionsResponse,
    RiskScoreOut,
    SentimentDayOut,
    SentimentResponse,
)
from api.signal_schemas import SignalOut
from pipelines.contracts.measures import (
    DERIVED_ONCHAIN_METRICS,
    FEATURE_MEASURES,
    FLOW_METRICS,
    ONCHAIN_METRICS,
)
from pipelines.contracts.served import (
    ECONOMIC,
    FEATURES,
    FORECAST_SUMMARY_SCHEMA,
    MARKET,
    MARKET_AGGREGATE_SCHEMA,
    NEWS,
    OHLCV,
    ONCHAIN,
    PREDICTIONS,
    RISK_SCORES,
    SENTIMENT,
    SIGNALS,
)


class Mirror(typing.NamedTuple):
    """``rows`` serves rows of ``schema``; ``stated_once`` are the columns ``response`` states
    once for all its rows instead; ``derived`` the fields ``rows`` adds; ``json`` the columns
    it serves unpacked from JSON text."""

    rows: type[BaseModel]
    schema: pa.Schema
    response: type[BaseModel] | None = None
    stated_once: frozenset[str] = frozenset()
    derived: frozenset[str] = frozenset()
    json: frozenset[str] = frozenset()


MIRRORS = [
    Mirror(OhlcvBarOut, OHLCV.schema, OhlcvResponse, frozenset({"asset_id", "resolution"})),
    Mirror(OnchainDayOut, ONCHAIN.schema, OnchainResponse, frozenset({"asset_id"})),
    Mirror(FeaturesDayOut, FEATURES.schema, FeaturesResponse, frozenset({"asset_id"})),
    Mirror(SentimentDayOut, SENTIMENT.schema, SentimentResponse, frozenset({"asset_id"})),
    Mirror(NewsArticleOut, NEWS.schema, NewsResponse, frozenset({"asset_id"})),
    Mirror(
        ObservationOut,
        ECONOMIC.schema,
        EconomicResponse,
        frozenset({"series_id", "region", "frequency", "units"}),
    ),
    Mirror(
        PredictionPointOut,
        PREDICTIONS.schema,
        PredictionsResponse,
        frozenset({"asset_id", "horizon_days", "generated_at", "model_version"}),
    ),
    Mirror(ForecastSummaryOut, FORECAST_SUMMARY_SCHEMA, derived=frozenset({"expected_return"})),
    Mirror(
        RiskScoreOut,
        RISK_SCORES.schema,
        derived=frozenset({"weights", "pegged", "top_factors"}),
        json=RISK_SCORES.json_columns,
    ),
    Mirror(SignalOut, SIGNALS.schema, json=SIGNALS.json_columns),
    Mirror(MarketDayOut, MARKET.schema, MarketSeriesResponse, frozenset({"asset_id"})),
    # The assets table: a market row with the asset's reference facts and what is joined in.
    Mirror(
        MarketAssetOut,
        MARKET.schema,
        derived=frozenset(
            {
                "symbol",
                "name",
                "asset_class",
                "network",
                "issuer_name",
                "kyc_required",
                "evidence",
                "price_change_7d",
                "value_change_7d",
                "holders_change_7d",
                "risk_score",
                "sentiment_7d",
                "articles_7d",
            }
        ),
    ),
    Mirror(MarketAggregateOut, MARKET_AGGREGATE_SCHEMA),
]


def python_type(annotation: Any) -> Any:
    """The type a field holds, without ``None`` and ``Annotated`` constraints."""
    if get_origin(annotation) is Annotated:
        return python_type(get_args(annotation)[0])
    if get_origin(annotation) is typing.Literal:  # a closed set of values of one type
        (held,) = {type(value) for value in get_args(annotation)}
        return held
    if get_origin(annotation) in (typing.Union, types.UnionType):
        (held,) = [arg for arg in get_args(annotation) if arg is not type(None)]
        return python_type(held)
    return annotation


def served_type(arrow_type: pa.DataType) -> type:
    """The Python type a column of ``arrow_type`` is served as."""
    if pa.types.is_timestamp(arrow_type):
        return dt.datetime
    if pa.types.is_date(arrow_type):
        return dt.date
    if pa.types.is_floating(arrow_type):
        return float
    if pa.types.is_integer(arrow_type):
        return int
    if pa.types.is_boolean(arrow_type):
        return bool
    assert pa.types.is_string(arrow_type), arrow_type
    return str


@pytest.mark.parametrize("mirror", MIRRORS, ids=[mirror.rows.__name__ for mirror in MIRRORS])
def test_each_row_schema_has_its_tables_columns_and_types(mirror: Mirror) -> None:
    fields = mirror.rows.model_fields
    columns = set(mirror.schema.names) - mirror.stated_once
    assert set(fields) == columns | mirror.derived
    if mirror.response is not None:
        assert mirror.stated_once <= set(mirror.response.model_fields)
    for name in columns - mirror.json:
        expected = served_type(mirror.schema.field(name).type)
        assert python_type(fields[name].annotation) is expected, name


def test_the_onchain_and_feature_schemas_serve_every_measure() -> None:
    assert set(OnchainDayOut.model_fields) == {
        "ts",
        *ONCHAIN_METRICS,
        *DERIVED_ONCHAIN_METRICS,
        *FLOW_METRICS,
    }
    assert set(FeaturesDayOut.model_fields) == {"ts", *FEATURE_MEASURES}
