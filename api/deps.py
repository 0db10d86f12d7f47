"""Dependencies shared by the routes: the serving store, the settings, parsed query models."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from api.schemas import OhlcvQuery
from pipelines.core.settings import Settings
from pipelines.reference.model import AssetClass
from pipelines.serving.base import ServingStore


def get_store(request: Request) -> ServingStore:
    """The store the lifespan opened; one per process, shared by all requests."""
    store = getattr(request.app.state, "store", None)
    if not isinstance(store, ServingStore):
        # Only reachable when the app is driven without its lifespan (e.g. a bare TestClient).
        raise RuntimeError("serving store is not open: run the app with its lifespan")
    return store


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with (not re-read from the environment)."""
    settings = getattr(request.app.state, "settings", None)
    if not isinstance(settings, Settings):
        raise RuntimeError("settings are not set: create the app with api.main.create_app")
    return settings


StoreDep = Annotated[ServingStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

#: Optional asset-class filter; FastAPI's 422 lists the allowed classes.
AssetClassFilter = Annotated[AssetClass | None, Query(description="Only assets of this class.")]

#: The OHLCV query parameters, validated together (start must precede end).
OhlcvQueryDep = Annotated[OhlcvQuery, Query()]
