"""Price forecasts: ``GET /assets/{asset_id}/predictions`` (the latest path of one asset) and
``GET /predictions`` (where every asset's latest forecast ends, filtered, sorted, paged)."""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Annotated, Any

import orjson
import pyarrow as pa
from fastapi import APIRouter, Query, Response

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    AssetClassFilter,
    KnownAssetId,
    StoreDep,
    memoised_body,
    memoised_read,
)
from api.rendering import (
    UnservableValueError,
    dump_json,
    envelope,
    json_response,
    rows_from_arrow,
)
from api.schemas import (
    ForecastPage,
    ForecastSort,
    ForecastSummaryOut,
    PredictionPointOut,
    PredictionsResponse,
)
from api.security.tiers import HORIZON_GATE, TIER_REQUIRED
from pipelines.serving.store import ServingStore

router = APIRouter(tags=["predictions"], responses=STORE_UNAVAILABLE)


class Horizon(IntEnum):
    """Forecast horizons served, in days."""

    week = 7
    month = 30


@router.get(
    "/assets/{asset_id}/predictions",
    response_model=PredictionsResponse,
    responses=ASSET_NOT_FOUND | TIER_REQUIRED,
    dependencies=[HORIZON_GATE],
    summary="Latest forecast of one asset",
)
async def get_predictions(
    store: StoreDep,
    asset_id: KnownAssetId,
    horizon: Annotated[Horizon, Query(description="Days ahead: 7 or 30.")] = Horizon.week,
) -> Response:
    """The newest forecast run: one point per day ahead with 80% and 95% prediction intervals,
    the model version that made it and when. An asset never forecast answers an empty list."""
    key = ("predictions body", asset_id, int(horizon))
    body = await memoised_read(store, key, lambda: _forecast(store, asset_id, int(horizon)))
    return json_response(body)


def _forecast(store: ServingStore, asset_id: str, horizon_days: int) -> dict[str, Any]:
    points = store.latest_predictions(asset_id, horizon_days)
    run = points.select(["generated_at", "model_version"]).slice(0, 1).to_pylist()
    head = PredictionsResponse(
        asset_id=asset_id,
        horizon_days=horizon_days,
        generated_at=run[0]["generated_at"] if run else None,
        model_version=run[0]["model_version"] if run else None,
        predictions=[],
    )
    return envelope(head, "predictions", rows_from_arrow(PredictionPointOut, points))


@router.get(
    "/predictions",
    response_model=ForecastPage,
    responses=TIER_REQUIRED,
    dependencies=[HORIZON_GATE],
    summary="Latest forecasts of all assets",
)
async def list_predictions(
    store: StoreDep,
    horizon: Annotated[Horizon, Query(description="Days ahead: 7 or 30.")] = Horizon.week,
    asset_class: AssetClassFilter = None,
    sort: Annotated[ForecastSort, Query(description="Order; '-' for descending.")] = (
        "-expected_return"
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """For each asset, the last day of its newest forecast at ``horizon`` with the expected
    return from the last close; sorted (assets without a served close last), paged."""

    async def render() -> bytes:
        memo_key = ("forecast summaries out", int(horizon), asset_class)
        rows = await memoised_read(
            store, memo_key, lambda: _summaries(store, int(horizon), asset_class)
        )
        key = sort.removeprefix("-")
        known = [r for r in rows if r[key] is not None]
        known.sort(key=lambda r: (r[key], r["asset_id"]), reverse=sort.startswith("-"))
        ordered = known + [r for r in rows if r[key] is None]
        head = ForecastPage(total=len(ordered), limit=limit, offset=offset, forecasts=[])
        return dump_json(envelope(head, "forecasts", ordered[offset : offset + limit]))

    page = ("forecast page", int(horizon), asset_class, sort, limit, offset)
    return json_response(orjson.Fragment(await memoised_body(store, page, render)))


def _summaries(
    store: ServingStore, horizon_days: int, asset_class: str | None
) -> tuple[dict[str, Any], ...]:
    """Every asset's forecast summary as ``ForecastSummaryOut`` serves it (rows are shared
    by the requests of one snapshot: never changed once made)."""
    summaries = store.forecast_summaries(horizon_days, asset_class)
    # expected_return is worked out per row below (a handful of assets), like the old path.
    blank = pa.nulls(summaries.num_rows, pa.float64())
    rows = rows_from_arrow(ForecastSummaryOut, summaries.append_column("expected_return", blank))
    for row in rows:
        row["expected_return"] = _expected_return(row["value"], row["last_close"])
    return tuple(rows)


def _expected_return(value: float, last_close: float | None) -> float | None:
    """value / last_close - 1; null without a served (non-zero) close. Finite, as its
    schema promises, or the answer is refused."""
    if not last_close:
        return None
    expected = value / last_close - 1
    if not math.isfinite(expected):
        raise UnservableValueError(f"expected_return of {value} / {last_close} is {expected}")
    return expected
