"""The tier feature matrix: per role, the request rate and what a caller may read.

One table decides it (:data:`MATRIX`, documented in docs/security.md); routes declare the
feature they need with :func:`requires`, which answers 403 naming the lowest tier that has it.
Some features depend on a query parameter (a resolution, a horizon, a row count), so a gate may
carry a condition on the request: the route is open to every tier, that use of it is not.

Gates read the principal that authentication stored in ``request.state.principal``; they must
run after it (the app lists authentication first). A request without one is refused with 401:
a gate that finds no identity fails closed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastapi import Depends, HTTPException, Request, status

from api.accounts.principal import Principal, Role
from api.schemas import ErrorOut

#: Tiers from lowest to highest; "or above" in a 403 follows this order.
TIER_ORDER: tuple[Role, ...] = (Role.EXPLORER, Role.PROFESSIONAL, Role.ENTERPRISE, Role.ADMIN)


class Feature(StrEnum):
    """What the matrix grants per tier (beyond the data every tier reads)."""

    #: 1m, 5m and 1h OHLCV bars (1d and 1w bars are open to every tier).
    INTRADAY_BARS = "intraday bars (1m, 5m, 1h)"
    #: 30-day forecasts (7-day forecasts are open to every tier).
    LONG_HORIZON_PREDICTIONS = "30-day predictions"
    #: Risk scores with their sub-scores and factors.
    RISK_DETAIL = "risk scores with sub-scores and factors"
    #: More rows per request than the explorer's bulk limit.
    BULK_READS = "bulk reads"
    #: PDF reports of an asset or a portfolio (``/reports/*``, ``rwa report``).
    PDF_REPORTS = "PDF reports"
    #: Forecast, sentiment and risk signals with their backtests (``/signals``): analytics
    #: beyond the forecasts and scores themselves, like the risk detail.
    SIGNALS = "signals with their backtests"
    #: ``/lineage``: the chain behind a served number. Paid: a daily bar's chain holds its
    #: hourly bars and the raw source responses, data the explorer tier does not read.
    LINEAGE = "lineage"


@dataclass(frozen=True, slots=True)
class Tier:
    """What one role gets."""

    #: Requests per minute (moving window) or None for unlimited.
    requests_per_minute: int | None
    features: frozenset[Feature]
    #: Most rows one request may ask for (``limit``); None = the endpoint's own maximum.
    max_rows: int | None
    #: Most alert rules a user may own, active or paused (None: unlimited).
    alert_rules: int | None
    #: Most portfolios a user may own (None: unlimited).
    portfolios: int | None


_PAID = frozenset(Feature)

#: The matrix. Explorer's row cap is above every endpoint's default ``limit``, so a request
#: that leaves ``limit`` alone is never refused for size.
MATRIX: Mapping[Role, Tier] = {
    Role.EXPLORER: Tier(
        requests_per_minute=100,
        features=frozenset(),
        max_rows=5000,
        alert_rules=5,
        portfolios=2,
    ),
    Role.PROFESSIONAL: Tier(
        requests_per_minute=500, features=_PAID, max_rows=None, alert_rules=100, portfolios=50
    ),
    Role.ENTERPRISE: Tier(
        requests_per_minute=None, features=_PAID, max_rows=None, alert_rules=1000, portfolios=500
    ),
    Role.ADMIN: Tier(
        requests_per_minute=None, features=_PAID, max_rows=None, alert_rules=None, portfolios=None
    ),
}


def tier_of(role: Role) -> Tier:
    return MATRIX[role]


class Cap(StrEnum):
    """What a tier caps by count (each a :class:`Tier` field of the same name, lower case)."""

    ALERT_RULES = "alert rules"
    PORTFOLIOS = "portfolios"

    def of(self, tier: Tier) -> int | None:
        cap: int | None = getattr(tier, self.name.lower())
        return cap


def next_tier_with_more(role: Role, cap: Cap) -> Role | None:
    """The first tier above ``role`` that may own more of ``cap`` (None: none does)."""
    own = cap.of(MATRIX[role])
    for higher in TIER_ORDER[TIER_ORDER.index(role) + 1 :]:
        theirs = cap.of(MATRIX[higher])
        if own is not None and (theirs is None or theirs > own):
            return higher
    return None


def cap_reached(role: Role, cap: Cap) -> HTTPException:
    """The 403 of a user who owns as many of ``cap`` as their tier allows."""
    most = cap.of(MATRIX[role])
    upgrade = next_tier_with_more(role, cap)
    more = f"; the {upgrade.value} tier owns more" if upgrade is not None else ""
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"the {role.value} tier owns at most {most} {cap.value}: delete or reuse one{more}",
    )


def lowest_tier_with(feature: Feature) -> Role:
    """The first role in :data:`TIER_ORDER` whose tier grants ``feature``."""
    for role in TIER_ORDER:
        if feature in MATRIX[role].features:
            return role
    raise LookupError(f"no tier grants {feature}")  # pragma: no cover - the matrix is static


def principal_of(request: Request) -> Principal:
    """The principal authentication stored on the request; 401 when there is none."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="not authenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def feature_denied(feature: Feature, what: str | None = None) -> HTTPException:
    """The 403 for a caller whose tier lacks ``feature``; ``what`` names the use refused."""
    needed = lowest_tier_with(feature)
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        detail=f"{what or feature.value} requires the {needed.value} tier or above",
    )


#: A condition on the request: True when this request uses the feature (None: always).
Condition = Callable[[Request], str | None]


def requires(feature: Feature, when: Condition | None = None) -> Any:
    """A dependency (``Depends``) refusing callers whose tier lacks ``feature``, with 403.

    ``when`` decides from the request whether it uses the feature: it returns the words naming
    that use (e.g. "1h bars"), or None when the request does not need the feature.
    """

    async def gate(request: Request) -> None:
        principal = principal_of(request)
        if feature in MATRIX[principal.role].features:
            return
        if when is None:
            raise feature_denied(feature)
        use = when(request)
        if use is not None:
            raise feature_denied(feature, use)

    gate.__name__ = f"requires_{feature.name.lower()}"
    return Depends(gate)


# --- conditions on query parameters -----------------------------------------------------------
# They read the raw query string: a value the route's own validation refuses is left to it
# (422), so a gate never answers 403 for a request that is malformed anyway.

INTRADAY_RESOLUTIONS = frozenset({"1m", "5m", "1h"})
#: The OHLCV endpoint's default resolution (api.schemas.OhlcvQuery.effective_resolution).
DEFAULT_RESOLUTION = "1h"


def intraday_resolution(request: Request) -> str | None:
    query = request.query_params
    resolution = query.get("resolution") or query.get("interval") or DEFAULT_RESOLUTION
    if resolution in INTRADAY_RESOLUTIONS:
        return f"{resolution} bars (explorer reads 1d and 1w: pass resolution=1d)"
    return None


def long_horizon(request: Request) -> str | None:
    return "30-day predictions" if request.query_params.get("horizon") == "30" else None


async def refuse_rows_beyond_tier(request: Request) -> None:
    """403 when ``limit`` asks for more rows than the caller's tier allows."""
    raw = request.query_params.get("limit")
    if raw is None:
        return
    try:
        rows = int(raw)
    except ValueError:
        return
    principal = principal_of(request)
    cap = MATRIX[principal.role].max_rows
    if cap is not None and rows > cap:
        raise feature_denied(Feature.BULK_READS, f"limit above {cap} rows")


#: The 403 of a gated route, for the OpenAPI document.
TIER_REQUIRED: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "The caller's tier lacks this feature; the detail names the tier needed.",
    }
}

#: Gates the data routes declare.
INTRADAY_GATE = requires(Feature.INTRADAY_BARS, when=intraday_resolution)
HORIZON_GATE = requires(Feature.LONG_HORIZON_PREDICTIONS, when=long_horizon)
RISK_GATE = requires(Feature.RISK_DETAIL)
SIGNALS_GATE = requires(Feature.SIGNALS)
LINEAGE_GATE = requires(Feature.LINEAGE)
BULK_GATE: Any = Depends(refuse_rows_beyond_tier)
