"""Routers of the API, one module per resource; :data:`ROUTERS` is what the app mounts."""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    assets,
    economic,
    features,
    health,
    ohlcv,
    onchain,
    predictions,
    risk,
    sentiment,
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
)

__all__ = ["ROUTERS"]
