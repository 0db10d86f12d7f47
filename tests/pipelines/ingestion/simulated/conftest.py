"""Fixtures of the simulated source's tests: one clean 90-day simulation per session."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.ingestion.simulated import (
    SimulatedSource,
    coinapi_symbol_id,
)
from tests.pipelines.ingestion.simulated.sim_factory import ASSETS, source


@pytest.fixture(scope="session")
def clean() -> SimulatedSource:
    """90 days of hourly bars, no faults."""
    return source()


@pytest.fixture(scope="session")
def clean_prices(clean: SimulatedSource) -> dict[str, list[dict[str, Any]]]:
    """Every bar per asset id, in time order."""
    bars: dict[str, list[dict[str, Any]]] = {a.asset_id: [] for a in ASSETS}
    by_symbol = {coinapi_symbol_id(a): a.asset_id for a in ASSETS}
    for request in clean.build_requests(clean.window):
        if request.dataset == "prices":
            asset_id = by_symbol[request.params["symbol_id"]]
            bars[asset_id] += clean.fetch(request).payload
    return bars
