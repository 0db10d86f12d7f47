"""``/reports``: PDF reports of an asset or a portfolio (the paid tiers: ``Feature.PDF_REPORTS``).

Rendering takes about a second of CPU: it runs in the threadpool, so the event loop keeps
answering other requests meanwhile. An asset report depends on the served data only, so it is
kept with the store's snapshot like the JSON reads and rendered once per published snapshot.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    KnownAssetId,
    StoreDep,
    memoised_read,
)
from api.reports.asset import asset_pdf
from api.security.tiers import TIER_REQUIRED, Feature, requires

router = APIRouter(
    prefix="/reports",
    tags=["reports"],
    responses=STORE_UNAVAILABLE | TIER_REQUIRED,
    dependencies=[requires(Feature.PDF_REPORTS)],
)

#: The 200 of a report, for the OpenAPI document: a PDF file, no JSON.
PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    status.HTTP_200_OK: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The report, a PDF (A4; every page dated by the data's as-of time and "
        "naming the model versions).",
    }
}


def pdf_response(pdf: bytes, filename: str) -> Response:
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/assets/{asset_id}.pdf",
    response_class=Response,
    responses=PDF_RESPONSE | ASSET_NOT_FOUND,
    summary="PDF report of one asset",
)
async def asset_report(store: StoreDep, asset_id: KnownAssetId) -> Response:
    """Key facts and evidence flags, the price with its 7- and 30-day forecast bands, the risk
    breakdown with its factors, daily sentiment and on-chain metrics, as the API serves them.
    ``rwa report asset ID`` writes the same file."""
    pdf = await memoised_read(store, ("asset report", asset_id), lambda: asset_pdf(store, asset_id))
    return pdf_response(pdf, f"rwa-asset-{asset_id}.pdf")
