"""Routers of the API, one module per resource; :data:`ROUTERS` is what the app mounts.

Every router needs credentials except those in :data:`PUBLIC_ROUTERS` (health, and the
``/auth`` routes that hand credentials out)."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    admin,
    alerts,
    assets,
    auth,
    deliveries,
    economic,
    events,
    features,
    health,
    keys,
    lineage,
    market,
    me,
    news,
    ohlcv,
    onchain,
    pipeline,
    portfolio_risk,
    portfolio_values,
    portfolios,
    predictions,
    reports,
    risk,
    sentiment,
    signals,
    two_factor,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    assets.router,
    ohlcv.router,
    onchain.router,
    features.router,
    economic.router,
    predictions.router,
    sentiment.router,
    news.router,
    risk.router,
    signals.router,
    market.router,
    lineage.router,
    auth.router,
    me.router,
    keys.router,
    two_factor.router,
    admin.router,
    pipeline.router,
    alerts.router,
    deliveries.router,
    events.router,
    portfolios.router,
    portfolio_risk.router,
    reports.router,
    portfolio_values.router,
)

PUBLIC_ROUTERS: tuple[APIRouter, ...] = (health.router, auth.router)
#: Routers about the account rather than the data: each route checks the scope it needs
#: (``deps.account_of``; admin routes need ``manage:account``). Every other protected router
#: needs ``read:data`` as a whole.
ACCOUNT_ROUTERS: tuple[APIRouter, ...] = (
    me.router,
    keys.router,
    two_factor.router,
    admin.router,
    pipeline.router,
    alerts.router,
    deliveries.router,
    portfolios.router,
    portfolio_values.router,
)

__all__ = ["ACCOUNT_ROUTERS", "PUBLIC_ROUTERS", "ROUTERS"]
