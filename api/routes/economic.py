"""``GET /economic/{series_id}``: observations of one macro series (FRED, World Bank)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.responses import JSONResponse

from api.deps import STORE_UNAVAILABLE, EconomicQueryDep, Responses, StoreDep
from api.schemas import EconomicResponse, ErrorOut, ObservationOut, RegionChoicesOut
from pipelines.contracts.served import ECONOMIC
from pipelines.serving.store import ServingStore

router = APIRouter(prefix="/economic", tags=["macro"], responses=STORE_UNAVAILABLE)

SeriesId = Annotated[
    str,
    Path(description="FRED series id (e.g. 'DGS10') or World Bank indicator.", examples=["DGS10"]),
]

_RESPONSES: Responses = {
    status.HTTP_300_MULTIPLE_CHOICES: {
        "model": RegionChoicesOut,
        "description": "No region given and the series has several: ask again with one.",
    },
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "Unknown series, or no data for the region.",
    },
}


def _resolve_region(
    store: ServingStore, series_id: str, region: str | None
) -> str | RegionChoicesOut:
    """The region to read: the one asked for, or the series' only one; the choices when
    there are several and none was asked for. 404 when the series (or its region) has no
    data."""
    regions = store.economic_regions(series_id)
    if not regions:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"economic series {series_id!r} not found"
        )
    if region is None:
        if len(regions) == 1:
            return regions[0]
        return RegionChoicesOut(
            detail=f"series {series_id!r} exists for several regions: choose one of "
            f"{regions} with the region parameter",
            regions=regions,
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
    responses=_RESPONSES,
    summary="Observations of one macro series",
)
def get_economic(
    store: StoreDep, query: EconomicQueryDep, series_id: SeriesId
) -> EconomicResponse | JSONResponse:
    """Observations with ``start <= observation date < end``, oldest first; the newest
    ``limit`` when more match. ``frequency`` and ``units`` are those of the latest one.
    Without ``region``, a series that exists for several regions answers 300 Multiple
    Choices listing them (each is its own representation of the series)."""
    region = _resolve_region(store, series_id, query.region)
    if isinstance(region, RegionChoicesOut):
        return JSONResponse(region.model_dump(), status_code=status.HTTP_300_MULTIPLE_CHOICES)
    key = {"series_id": series_id, "region": region}
    rows = store.series(ECONOMIC, key, query.start, query.end, query.limit)
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
