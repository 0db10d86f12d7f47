"""The dashboard's pages under ``/dashboard``: login, overview, asset, screener, alerts,
portfolios, status.

A page is a frame rendered on the server (who is signed in, which panels their tier may read,
the asset's name); its panels are drawn in the browser from the API's JSON endpoints by the
scripts in ``static/``. No page carries an inline script: the pages' Content-Security-Policy
(``api.security.middleware``) allows scripts from this origin only.

A visit without a valid access-token cookie is sent to the login page (303), which uses the
API's own ``/auth`` flow (password, then the TOTP step when 2FA is on) and comes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.accounts.principal import Principal, Scope
from api.deps import DbSession, StoreDep, optionally_authenticated
from api.portfolios import service
from api.security.tiers import MATRIX, Feature, tier_of

WEB_ROOT = Path(__file__).resolve().parent
STATIC_DIR = WEB_ROOT / "static"
#: The chart library, copied here by ``infra/local/web.sh`` (not in git): without it every
#: page says so at the top instead of drawing empty boxes.
CHART_BUNDLE = STATIC_DIR / "vendor" / "echarts.min.js"
PREFIX = "/dashboard"
LOGIN = f"{PREFIX}/login"

# Autoescaped (.html): asset names and ids come from data and from the URL.
TEMPLATES = Jinja2Templates(directory=WEB_ROOT / "templates")

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: Tier features the scripts need to know, so a page never asks for what the tier is refused
#: (each refusal would be a failed request in the console): name in the page -> feature.
_PAGE_FEATURES = {
    "intraday": Feature.INTRADAY_BARS,
    "long-horizon": Feature.LONG_HORIZON_PREDICTIONS,
    "risk": Feature.RISK_DETAIL,
}


class SignInRequiredError(Exception):
    """Raised by :func:`viewer` when a page is visited without valid credentials."""


async def viewer(request: Request) -> Principal:
    """The signed-in reader of a page: from the access-token cookie (or any credential the
    API accepts); :class:`SignInRequiredError` otherwise, which the app turns into a redirect."""
    await optionally_authenticated(request, None)
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal) or not principal.can(Scope.READ_DATA):
        raise SignInRequiredError
    return principal


Viewer = Annotated[Principal, Depends(viewer)]


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a dashboard path of this site only (never another host:
    an open redirect would let a link send users anywhere after a genuine login)."""
    if target is None or any(c in target for c in "\\\r\n"):
        return PREFIX
    at_dashboard = target == PREFIX or target.startswith((f"{PREFIX}/", f"{PREFIX}?"))
    return target if at_dashboard else PREFIX


def sign_in_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(
        f"{LOGIN}?next={quote(safe_next(target), safe='/')}", status.HTTP_303_SEE_OTHER
    )


def _render(
    request: Request,
    template: str,
    principal: Principal | None,
    status_code: int = status.HTTP_200_OK,
    **context: Any,
) -> HTMLResponse:
    features = (
        sorted(name for name, f in _PAGE_FEATURES.items() if f in MATRIX[principal.role].features)
        if principal is not None
        else []
    )
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "is_admin": principal is not None and principal.is_admin,
            "features": " ".join(features),
            "chart_bundle": CHART_BUNDLE.is_file(),
            **context,
        },
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, next_page: Annotated[str | None, Query(alias="next")] = None
) -> HTMLResponse:
    """Email and password, then the authenticator code when the account has 2FA on."""
    return _render(request, "login.html", None, next_page=safe_next(next_page))


@router.get("", response_class=HTMLResponse)
def overview(request: Request, principal: Viewer, store: StoreDep) -> HTMLResponse:
    # The peg monitor's assets, in the page: their bars are asked for with the first requests
    # instead of after the assets table has arrived (a second round trip before drawing).
    stablecoins = " ".join(a.asset_id for a in store.list_assets(asset_class="stablecoin"))
    return _render(request, "overview.html", principal, page="overview", stablecoins=stablecoins)


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(request: Request, principal: Viewer, store: StoreDep, asset_id: str) -> HTMLResponse:
    """One asset's page; 404 with a clear message when the store does not know the asset."""
    asset = store.get_asset(asset_id)
    if asset is None:
        return _render(
            request,
            "unknown_asset.html",
            principal,
            status.HTTP_404_NOT_FOUND,
            page="asset",
            asset_id=asset_id,
        )
    return _render(request, "asset.html", principal, page="asset", asset=asset)


@router.get("/screener", response_class=HTMLResponse)
def screener(request: Request, principal: Viewer) -> HTMLResponse:
    return _render(request, "screener.html", principal, page="screener")


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, principal: Viewer) -> HTMLResponse:
    """The reader's alert rules, the plain-language box, recent firings and their deliveries.
    The page states the tier's number of rules, so a refusal at the limit is no surprise."""
    limit = tier_of(principal.role).alert_rules
    return _render(
        request,
        "alerts.html",
        principal,
        page="alerts",
        rule_limit=limit,
    )


@router.get("/portfolios", response_class=HTMLResponse)
def portfolios_page(
    request: Request,
    principal: Viewer,
    session: DbSession,
    shown: Annotated[str | None, Query(alias="portfolio")] = None,
) -> HTMLResponse:
    """The reader's portfolios: holdings, value and P&L over time, allocation, risk, live
    updates. The picker's portfolios are in the page, so its panels' requests go out with the
    first ones (not after a ``GET /portfolios``). The PDF button is rendered only for a tier
    with PDF reports (the route refuses the others), and the page states the tier's number
    of portfolios."""
    tier = tier_of(principal.role)
    owned = [(p.id, p.name) for p in service.portfolios_of(session, principal.user_id)]
    # Another user's id, or no number at all, shows the reader's first portfolio.
    ids = {str(i): i for i, _ in owned}
    return _render(
        request,
        "portfolios.html",
        principal,
        page="portfolios",
        portfolios=owned,
        selected=ids.get(shown or "", owned[0][0] if owned else None),
        portfolio_limit=tier.portfolios,
        pdf_reports=Feature.PDF_REPORTS in tier.features,
    )


@router.get("/status", response_class=HTMLResponse)
def status_page(request: Request, principal: Viewer) -> HTMLResponse:
    """Pipeline and model status: admins only (403 page for anyone else)."""
    if not principal.is_admin:
        return _render(
            request, "forbidden.html", principal, status.HTTP_403_FORBIDDEN, page="status"
        )
    return _render(request, "status.html", principal, page="status")


async def _sign_in(request: Request, exc: Exception) -> Response:
    return sign_in_redirect(request)


def _home() -> RedirectResponse:
    return RedirectResponse(PREFIX, status.HTTP_307_TEMPORARY_REDIRECT)


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the sign-in redirect on ``app``."""
    app.include_router(router)
    app.add_api_route("/", _home, include_in_schema=False)
    # Static files are public (scripts, styles, the chart library): they hold no data.
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    app.add_exception_handler(SignInRequiredError, _sign_in)
