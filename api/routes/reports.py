"""``/reports``: PDF reports of an asset or a portfolio (the paid tiers: ``Feature.PDF_REPORTS``).

Rendering takes a second or two of CPU: it runs in the threadpool, so the event loop keeps
answering other requests meanwhile. An asset report depends on the served data only, so it is
kept with the store's snapshot like the JSON reads and rendered once per published snapshot; a
portfolio report also depends on its transactions, so it is rendered for every request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from fastapi.concurrency import run_in_threadpool

from api.deps import (
    ASSET_NOT_FOUND,
    STORE_UNAVAILABLE,
    Authenticated,
    DbSession,
    KnownAssetId,
    StoreDep,
    memoised_read,
)
from api.reports.asset import asset_pdf
from api.reports.portfolio import portfolio_pdf
from api.schemas import ErrorOut
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


#: A portfolio's id (a 32-bit integer column on PostgreSQL: larger values name none).
PortfolioId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The portfolio's id.")]

PORTFOLIO_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such portfolio of yours."}
}


@router.get(
    "/portfolios/{portfolio_id}.pdf",
    response_class=Response,
    responses=PDF_RESPONSE | PORTFOLIO_NOT_FOUND,
    summary="PDF report of one of your portfolios",
)
async def portfolio_report(
    portfolio_id: PortfolioId, store: StoreDep, session: DbSession, principal: Authenticated
) -> Response:
    """Value and P&L (now and as daily series), allocation by asset, class, network and
    issuer, risk (scores, VaR and expected shortfall, concentration, pegged exposure, the
    30-day value forecast) and the holdings table, as the portfolio endpoints answer them.
    Another user's portfolio is not found (404). ``rwa report portfolio ID --email OWNER``
    writes the same file."""
    pdf = await run_in_threadpool(portfolio_pdf, session, store, principal.user_id, portfolio_id)
    return pdf_response(pdf, f"rwa-portfolio-{portfolio_id}.pdf")
