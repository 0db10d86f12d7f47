"""``GET /portfolios/{id}/risk``: the risk of one of the signed-in user's portfolios.

Gated like ``/risk`` (``Feature.RISK_DETAIL``: paid tiers); another user's portfolio answers
404 like one that never existed. Thin data is no error: what cannot be measured (nothing held,
an asset without a price, too little joint history for a VaR, no forecast or score) is left
empty and said in ``missing``. Method: docs/risk.md, "Portfolio risk".
"""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import STORE_UNAVAILABLE, DbSession, StoreDep
from api.portfolios.risk import portfolio_risk
from api.portfolios.risk_schemas import PortfolioRiskOut
from api.routes.portfolios import NOT_FOUND, PortfolioId, Reader
from api.security.tiers import RISK_GATE, TIER_REQUIRED

router = APIRouter(
    prefix="/portfolios", tags=["portfolios"], responses=NOT_FOUND | STORE_UNAVAILABLE
)


@router.get(
    "/{portfolio_id}/risk",
    response_model=PortfolioRiskOut,
    responses=TIER_REQUIRED,
    dependencies=[RISK_GATE],
    summary="Risk of a portfolio: VaR and ES, concentration, pegged assets, scores, 30-day value",
)
def get_portfolio_risk(
    portfolio_id: PortfolioId, session: DbSession, user: Reader, store: StoreDep
) -> PortfolioRiskOut:
    """VaR and expected shortfall at 95% and 99%, 1 and 10 days, by filtered historical
    simulation and by RiskMetrics EWMA covariance (normal and Student-t) side by side, over
    the holdings' joint daily returns; HHI concentration by asset, issuer and network; the
    share in dollar-pegged assets and a stated de-peg scenario; the value-weighted risk
    scores; the 30-day value forecast with 80% and 95% bands. Every figure names its method."""
    return portfolio_risk(session, store, user.id, portfolio_id)
