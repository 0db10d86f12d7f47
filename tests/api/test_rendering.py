"""The fast JSON path (``api.rendering``: Arrow columns to JSON, no per-row validation) answers
the very bytes the schema-validated path answered, and refuses what validation refused.

The routes are called as functions on a DuckDB store holding awkward values (floats whose
shortest form is long or exponential, integral floats, nulls, sub-second timestamps), and each
body is compared with the validated construction the routes used before:
``Schema.model_validate(...)`` per row, then pydantic's JSON."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Coroutine
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi import Response
from pydantic import BaseModel, TypeAdapter

from api.rendering import UnservableValueError, dump_json, rows_from_arrow
from api.routes.ohlcv import get_ohlcv
from api.routes.predictions import Horizon, get_predictions, list_predictions
from api.routes.risk import get_risk, list_risk
from api.schemas import (
    FeaturesDayOut,
    ForecastPage,
    ForecastSummaryOut,
    OhlcvBarOut,
    OhlcvQuery,
    OhlcvResponse,
    PredictionPointOut,
    PredictionsResponse,
    RiskPage,
    RiskScoreOut,
    SentimentDayOut,
)
from models.risk.batch import score_rows
from models.risk.engine import score_asset
from models.risk.market import MarketHistory
from pipelines.contracts.served import OHLCV_SCHEMA, PREDICTIONS_SCHEMA
from pipelines.reference import load_assets
from pipelines.serving.duckdb_store import DuckDBStore
from tests.fixtures.sample_data import SAMPLE_ASSETS

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
N = 300
#: Floats whose JSON forms differ most between printers: exponents, long fractions, integers.
AWKWARD = [1e-7, 1e16, 0.1 + 0.2, -0.0, 3.0, 123456789.123456789, 5e-324, 1.7976931348623157e308]


def _floats(rng: np.random.Generator, n: int) -> list[float]:
    values = rng.lognormal(0, 8, n) * rng.choice([-1, 1], n)
    return [*AWKWARD, *values.tolist()][:n]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    rng = np.random.default_rng(12)
    path = tmp_path_factory.mktemp("rendering") / "serving.duckdb"
    opened = DuckDBStore(path)
    opened.migrate()
    opened.upsert_assets(SAMPLE_ASSETS)
    stamps = [T0 + dt.timedelta(hours=i, microseconds=500 * (i % 3)) for i in range(N)]
    volume = [None if i % 7 == 0 else v for i, v in enumerate(_floats(rng, N))]
    opened.upsert_ohlcv(
        pa.table(
            {
                "asset_id": ["btc"] * N,
                "resolution": ["1h"] * N,
                "ts": stamps,
                **{name: _floats(rng, N) for name in ("open", "high", "low", "close")},
                "volume": volume,
            },
            schema=OHLCV_SCHEMA,
        )
    )
    for asset_id, close in (("btc", 42_000.5), ("ousg", 0.0)):
        opened.upsert_predictions(_predictions(rng, asset_id))
        day = dt.datetime(2024, 2, 9, tzinfo=dt.UTC)  # the day before the run
        bar = {"asset_id": asset_id, "resolution": "1d", "ts": day, "volume": None}
        rows = [bar | {name: close for name in ("open", "high", "low", "close")}]
        opened.upsert_ohlcv(pa.Table.from_pylist(rows, schema=OHLCV_SCHEMA))
    opened.upsert_predictions(_predictions(rng, "usdc"))  # no close served: expected null
    yield opened
    opened.close()


def _predictions(rng: np.random.Generator, asset_id: str) -> pa.Table:
    generated = dt.datetime(2024, 2, 10, 0, 0, 0, 250, tzinfo=dt.UTC)
    days = 30
    value = _floats(rng, days)
    return pa.table(
        {
            "asset_id": [asset_id] * days,
            "horizon_days": [30] * days,
            "generated_at": [generated] * days,
            "model_version": ["m@1"] * days,
            "target_date": [generated.date() + dt.timedelta(days=i) for i in range(days)],
            "value": value,
            "lower_80": [None if i % 5 == 0 else v - 1 for i, v in enumerate(value)],
            "upper_80": [v + 1 for v in value],
            "lower_95": [v - 2 for v in value],
            "upper_95": [None] * days,
        },
        schema=PREDICTIONS_SCHEMA,
    )


def _body(answer: Coroutine[Any, Any, Response]) -> bytes:
    """The body a route function answers (they are async: run to completion here)."""
    response = asyncio.run(answer)
    assert response.media_type == "application/json"
    return bytes(response.body)


@pytest.mark.parametrize("limit", [N, 7])
def test_bars_are_the_bytes_of_the_validated_path(store: DuckDBStore, limit: int) -> None:
    query = OhlcvQuery.model_validate({"resolution": "1h", "start": "2024-01-01", "limit": limit})
    bars = store.ohlcv("btc", "1h", query.start, query.end, limit)
    validated = OhlcvResponse(
        asset_id="btc",
        resolution="1h",
        interval="1h",
        start=query.start,
        end=query.end,
        count=len(bars),
        bars=[OhlcvBarOut.model_validate(b) for b in bars],
    )
    body = _body(get_ohlcv(store, query, "btc"))
    assert body == validated.model_dump_json().encode()
    assert len(json.loads(body)["bars"]) == limit


def test_predictions_are_the_bytes_of_the_validated_path(store: DuckDBStore) -> None:
    rows = store.latest_predictions("btc", 30).to_pylist()
    validated = PredictionsResponse(
        asset_id="btc",
        horizon_days=30,
        generated_at=rows[0]["generated_at"],
        model_version=rows[0]["model_version"],
        predictions=[PredictionPointOut.model_validate(row) for row in rows],
    )
    body = _body(get_predictions(store, "btc", Horizon.month))
    assert body == validated.model_dump_json().encode()
    never = _body(get_predictions(store, "btc", Horizon.week))
    assert json.loads(never) == {
        "asset_id": "btc",
        "horizon_days": 7,
        "generated_at": None,
        "model_version": None,
        "predictions": [],
    }


@pytest.mark.parametrize("sort", ["-expected_return", "asset_id"])
def test_forecast_page_is_the_bytes_of_the_validated_path(store: DuckDBStore, sort: str) -> None:
    summaries = []
    for row in store.forecast_summaries(30).to_pylist():
        close = row["last_close"]
        expected = row["value"] / close - 1 if close else None
        summaries.append(ForecastSummaryOut.model_validate(row | {"expected_return": expected}))
    key = sort.removeprefix("-")
    known = [s for s in summaries if getattr(s, key) is not None]
    known.sort(key=lambda s: (getattr(s, key), s.asset_id), reverse=sort.startswith("-"))
    ordered = known + [s for s in summaries if getattr(s, key) is None]
    validated = ForecastPage(total=3, limit=2, offset=1, forecasts=ordered[1:3])
    body = _body(list_predictions(store, Horizon.month, None, sort, 2, 1))  # type: ignore[arg-type]
    assert body == validated.model_dump_json().encode()
    assert [f["expected_return"] for f in json.loads(body)["forecasts"]].count(None) >= 1


def test_risk_scores_are_the_bytes_of_the_validated_path(store: DuckDBStore) -> None:
    assets = [a for a in load_assets() if a.asset_id in ("btc", "ousg", "usdc", "eth")]
    store.upsert_assets(assets)
    rng = np.random.default_rng(3)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0, 0.03, 90)))
    history = MarketHistory(close, close * 1.01, close * 0.99, 1e-4, 0.0, None)
    day = dt.date(2024, 2, 9)
    store.upsert_risk_scores(score_rows([score_asset(a, history, day) for a in assets]))
    rows = store.latest_risk_scores().to_pylist()
    validated = [RiskScoreOut.from_row(row) for row in rows]
    assert (
        _body(get_risk(store, "eth"))
        == validated[[r["asset_id"] for r in rows].index("eth")].model_dump_json().encode()
    )
    ordered = sorted(validated, key=lambda s: (s.composite_score, s.asset_id), reverse=True)
    page = RiskPage(total=len(validated), limit=2, offset=1, scores=ordered[1:3])
    body = _body(list_risk(store, None, 1, 100, "-composite_score", 2, 1))
    assert body == page.model_dump_json().encode()
    # An offset beyond 64 bits (schemathesis sends them) is echoed as pydantic wrote it.
    far = 103064010639193204064256
    empty = RiskPage(total=len(validated), limit=2, offset=far, scores=[])
    body = _body(list_risk(store, None, 1, 100, "-composite_score", 2, far))
    assert body == empty.model_dump_json().encode()


def _validated(schema: type[BaseModel], table: pa.Table) -> bytes:
    adapter = TypeAdapter(list[schema])  # type: ignore[valid-type]
    return adapter.dump_json(adapter.validate_python(table.to_pylist()))


def test_day_rows_with_integers_and_defaults_match_validation() -> None:
    table = pa.table(
        {
            "ts": pa.array([T0, T0 + dt.timedelta(days=1)], pa.timestamp("us", tz="UTC")),
            "close": pa.array([1, None], pa.int64()),  # integers in a number field: 1.0
            "drawdown": [-0.25, 0.1 + 0.2],
            "unrelated": ["ignored", "too"],
        }
    )
    assert dump_json(rows_from_arrow(FeaturesDayOut, table)) == _validated(FeaturesDayOut, table)


@pytest.mark.parametrize(
    ("column", "values", "schema"),
    [
        ("value", [1.0, float("nan")], PredictionPointOut),
        ("value", [float("inf"), 1.0], PredictionPointOut),
        ("lower_80", [float("-inf"), None], PredictionPointOut),
        ("value", [None, 1.0], PredictionPointOut),  # required
        ("sentiment_score", [0.5, 1.5], SentimentDayOut),  # above its maximum of 1
    ],
)
def test_what_validation_refuses_is_refused(
    column: str, values: list[float | None], schema: type[BaseModel]
) -> None:
    base: dict[str, list[Any]] = {
        "ts": [T0, T0],
        "target_date": [T0.date(), T0.date()],
        "value": [1.0, 2.0],
        "article_count": [1, 2],
    }
    table = pa.table(base | {column: pa.array(values, pa.float64())})
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's and ours are both ValueErrors
        _validated(schema, table)
    with pytest.raises(UnservableValueError, match=column):
        rows_from_arrow(schema, table)


def test_a_schema_with_a_field_it_cannot_render_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="cannot render"):
        rows_from_arrow(OhlcvResponse, pa.table({"asset_id": ["btc"]}))
