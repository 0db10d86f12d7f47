"""``GET /economic/{series_id}``: observations of one macro series (FRED, World Bank)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.exceptions import RequestValidationError

from api.deps import EconomicQueryDep, StoreDep
from api.schemas import EconomicResponse, ErrorOut, ObservationOut
from pipelines.serving.base import ServingStore

router = APIRouter(prefix="/economic", tags=["macro"])

SeriesId = Annotated[
    str, Path(description="FRED series id (e.g. 'DGS10') or World Bank indicator.")
]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "Unknown series, or no data for the region.",
    }
}


def _resolve_region(store: ServingStore, series_id: str, region: str | None) -> str:
    """The region to read: the one asked for, or the series' only one. 404 when the series
    (or its region) has no data; 422 on query.region when the choice is ambiguous."""
    regions = store.economic_regions(series_id)
    if not regions:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"economic series {series_id!r} not found"
        )
    if region is None:
        if len(regions) == 1:
            return regions[0]
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("query", "region"),
                    "msg": f"series {series_id!r} exists for several regions: choose one of "
                    f"{regions}",
                    "input": None,
                }
            ]
        )
    if region not in regions:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"economic series {series_id!r} has no data for region {region!r}; "
            f"regions: {regions}",
        )
    return region


@router.get(
    "/{series_id}",
    response_model=EconomicResponse,
    responses=_NOT_FOUND,
    summary="Observations of one macro series",
)
def get_economic(store: StoreDep, query: EconomicQueryDep, series_id: SeriesId) -> EconomicResponse:
    """Observations with ``start <= observation date < end``, oldest first; the newest
    ``limit`` when more match. ``frequency`` and ``units`` are those of the latest one."""
    region = _resolve_region(store, series_id, query.region)
    rows = store.economic(series_id, region, query.start, query.end, query.limit)
    latest = rows.slice(rows.num_rows - 1).to_pylist()[0] if rows.num_rows else {}
    return EconomicResponse(
        series_id=series_id,
        region=region,
        frequency=latest.get("frequency"),
        units=latest.get("units"),
        start=query.start,
        end=query.end,
        count=rows.num_rows,
        observations=ObservationOut.list_from_arrow(rows),
    )
