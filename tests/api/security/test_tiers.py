"""The tier feature matrix and its gates, on a small app whose test dependency plays
authentication (it stores the principal a header names, as the real one does)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Header, Request
from fastapi.testclient import TestClient

from api.accounts.principal import Principal, Role
from api.security.tiers import (
    BULK_GATE,
    HORIZON_GATE,
    INTRADAY_GATE,
    MATRIX,
    RISK_GATE,
    TIER_ORDER,
    Feature,
    lowest_tier_with,
)


async def as_role(request: Request, x_role: Annotated[str | None, Header()] = None) -> None:
    if x_role is not None:
        request.state.principal = Principal(user_id=1, role=Role(x_role))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI(dependencies=[Depends(as_role)])

    @app.get("/ohlcv", dependencies=[INTRADAY_GATE, BULK_GATE])
    def ohlcv(resolution: str = "1h", limit: int = 5000) -> dict[str, str]:
        return {"resolution": resolution}

    @app.get("/predictions", dependencies=[HORIZON_GATE])
    def predictions(horizon: int = 7) -> dict[str, int]:
        return {"horizon": horizon}

    @app.get("/risk", dependencies=[RISK_GATE])
    def risk() -> dict[str, str]:
        return {}

    with TestClient(app) as test_client:
        yield test_client


def _get(client: TestClient, role: Role | None, path: str, **params: object) -> tuple[int, str]:
    headers = {"X-Role": role.value} if role else {}
    response = client.get(path, params=params, headers=headers)
    return response.status_code, str(response.json().get("detail", ""))


def test_the_matrix_grows_with_the_tier() -> None:
    assert [MATRIX[r].requests_per_minute for r in TIER_ORDER] == [100, 500, None, None]
    for lower, higher in itertools.pairwise(TIER_ORDER):
        assert MATRIX[lower].features <= MATRIX[higher].features
    assert all(lowest_tier_with(f) is Role.PROFESSIONAL for f in Feature)
    # Alert rules a user may own: more with each tier, unlimited for admins.
    assert [MATRIX[r].alert_rules for r in TIER_ORDER] == [5, 100, 1000, None]


@pytest.mark.parametrize("resolution", ["1m", "5m", "1h", None])
def test_explorer_gets_403_naming_the_tier_for_intraday_bars(
    client: TestClient, resolution: str | None
) -> None:
    params = {"resolution": resolution} if resolution else {}
    status, detail = _get(client, Role.EXPLORER, "/ohlcv", **params)
    assert status == 403
    assert f"{resolution or '1h'} bars" in detail
    assert "requires the professional tier or above" in detail
    assert _get(client, Role.PROFESSIONAL, "/ohlcv", **params)[0] == 200


def test_explorer_reads_daily_and_weekly_bars(client: TestClient) -> None:
    for resolution in ("1d", "1w"):
        assert _get(client, Role.EXPLORER, "/ohlcv", resolution=resolution)[0] == 200
    # The former parameter name is gated the same way.
    assert _get(client, Role.EXPLORER, "/ohlcv", interval="5m")[0] == 403


def test_bulk_limit_per_tier(client: TestClient) -> None:
    cap = MATRIX[Role.EXPLORER].max_rows
    assert _get(client, Role.EXPLORER, "/ohlcv", resolution="1d", limit=cap)[0] == 200
    status, detail = _get(client, Role.EXPLORER, "/ohlcv", resolution="1d", limit=cap + 1)
    assert (status, detail) == (
        403,
        f"limit above {cap} rows requires the professional tier or above",
    )
    assert _get(client, Role.ENTERPRISE, "/ohlcv", resolution="1d", limit=cap + 1)[0] == 200
    # A malformed limit is the route's to refuse (422), never a 403.
    assert _get(client, Role.EXPLORER, "/ohlcv", resolution="1d", limit="many")[0] == 422


def test_long_horizon_predictions_and_risk_detail(client: TestClient) -> None:
    assert _get(client, Role.EXPLORER, "/predictions", horizon=7)[0] == 200
    assert _get(client, Role.EXPLORER, "/predictions", horizon=30) == (
        403,
        "30-day predictions requires the professional tier or above",
    )
    assert _get(client, Role.PROFESSIONAL, "/predictions", horizon=30)[0] == 200
    assert _get(client, Role.EXPLORER, "/risk")[0] == 403
    assert _get(client, Role.ADMIN, "/risk")[0] == 200


def test_a_gate_without_a_principal_fails_closed(client: TestClient) -> None:
    response = client.get("/risk")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
