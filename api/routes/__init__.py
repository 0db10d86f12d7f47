"""Routers of the API, one module per resource; :data:`ROUTERS` is what the app mounts.

Every router needs credentials except those in :data:`PUBLIC_ROUTERS` (health, and the
``/auth`` routes that hand credentials out)."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    admin,
    assets,
    auth,
    economic,
    features,
    health,
    keys,
    me,
    ohlcv,
    onchain,
    predictions,
    risk,
    sentiment,
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
    risk.router,
    auth.router,
    me.router,
    keys.router,
    two_factor.router,
    admin.router,
)

PUBLIC_ROUTERS: tuple[APIRouter, ...] = (health.router, auth.router)

__all__ = ["PUBLIC_ROUTERS", "ROUTERS"]
