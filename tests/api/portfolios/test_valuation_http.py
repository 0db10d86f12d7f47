"""Valuation, allocation and the daily P&L over HTTP: one real server for the module, on a
DuckDB store holding tests/api/portfolios/served_prices.py's prices; the portfolio's
transactions are recorded through the API, the answers compared with the hand-computed numbers
of test_valuation.py and test_pnl_series.py (exact decimals as strings). The store reads are
tested on both stores there; the portfolio tables on SQLite and PostgreSQL by the ledger's
HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.accounts.principal import Role
from api.portfolios.ledger import Trade
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.live_server import running_server
from tests.api.portfolios.served_prices import TRADES, load
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow

ROUTES = ("valuation", "allocation", "pnl")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("portfolio_values")


@pytest.fixture(scope="module")
def users(workdir: Path) -> dict[Role, ApiCredentials]:
    settings = accounts_settings(workdir)
    return {role: provision(settings, role) for role in (Role.PROFESSIONAL, Role.EXPLORER)}


@pytest.fixture(scope="module")
def base_url(workdir: Path, users: dict[Role, ApiCredentials]) -> Iterator[str]:
    path = workdir / "serving.duckdb"
    with DuckDBStore(path) as store:
        store.migrate()
        load(store)
    with running_server(path, workdir, users[Role.PROFESSIONAL]) as url:
        yield url


@pytest.fixture(scope="module")
def owner(base_url: str, users: dict[Role, ApiCredentials]) -> Iterator[httpx.Client]:
    headers = users[Role.PROFESSIONAL].headers
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        yield client


def _body(trade: Trade) -> dict[str, Any]:
    body = {
        "kind": trade.kind.value,
        "asset_id": trade.asset_id,
        "quantity": str(trade.quantity),
        "fee": str(trade.fee),
        "executed_at": trade.at.isoformat(),
    }
    return body if trade.price is None else body | {"price": str(trade.price)}


def _portfolio(client: httpx.Client, name: str, method: str) -> int:
    made = client.post("/portfolios", json={"name": name, "cost_method": method})
    assert made.status_code == 201, made.text
    portfolio_id: int = made.json()["id"]
    for trade in TRADES:
        answer = client.post(f"/portfolios/{portfolio_id}/transactions", json=_body(trade))
        assert answer.status_code == 201, answer.text
    return portfolio_id


@pytest.fixture(scope="module")
def books(owner: httpx.Client) -> dict[str, int]:
    return {method: _portfolio(owner, method, method) for method in ("fifo", "average")}


def _ok(client: httpx.Client, path: str, **params: Any) -> Any:
    answer = client.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_valuation_is_exact_and_names_its_prices(
    owner: httpx.Client, books: dict[str, int]
) -> None:
    body = _ok(owner, f"/portfolios/{books['fifo']}/valuation")
    totals = {k: body[k] for k in ("market_value", "unrealized_pnl", "realized_pnl", "total_pnl")}
    assert totals == {
        "market_value": "44979.09",
        "unrealized_pnl": "2207.49",
        "realized_pnl": "-611.5",
        "total_pnl": "1595.99",
    }
    assert (body["cost_basis"], body["invested"], body["fees"]) == ("43771.6", "71786", "21.5")
    assert body["total_return"] == pytest.approx(1595.99 / 71786)
    assert (body["complete"], body["unpriced"], body["as_of"]) == (
        False,
        ["usdc"],
        "2024-01-05T00:00:00Z",
    )
    positions = {p["asset_id"]: p for p in body["positions"]}
    assert [positions["ousg"][k] for k in ("price", "price_source", "price_at")] == [
        "100.4",
        "nav",
        "2024-01-04T00:00:00Z",
    ]
    btc = positions["btc"]
    assert (btc["price"], btc["price_source"], btc["market_value"]) == (
        "43000.1",
        "close",
        "38700.09",
    )
    assert (btc["quantity"], btc["cost_basis"], btc["unrealized_pnl"]) == (
        "0.9",
        "36509",
        "2191.09",
    )
    usdc = positions["usdc"]
    assert [usdc[k] for k in ("price", "price_source", "market_value", "weight")] == [None] * 4
    average = _ok(owner, f"/portfolios/{books['average']}/valuation")
    assert (average["cost_method"], average["realized_pnl"], average["total_pnl"]) == (
        "average",
        "-811.5",
        "1595.99",
    )


def test_the_allocation_groups_the_priced_value(owner: httpx.Client, books: dict[str, int]) -> None:
    body = _ok(owner, f"/portfolios/{books['fifo']}/allocation")
    assert [(s["key"], s["market_value"]) for s in body["by_network"]] == [
        ("bitcoin", "38700.09"),
        ("ethereum", "6279"),
    ]
    assert [s["key"] for s in body["by_issuer"]] == ["unknown", "Ondo Finance", "Credit Co"]
    assert [s["key"] for s in body["by_asset"]] == ["btc", "ousg", "bcred"]
    assert sum(s["weight"] for s in body["by_asset_class"]) == pytest.approx(1.0)
    assert body["unpriced"] == ["usdc"]


def test_the_pnl_series_by_day_and_window(owner: httpx.Client, books: dict[str, int]) -> None:
    path = f"/portfolios/{books['fifo']}/pnl"
    days = _ok(owner, path)["days"]
    assert [d["day"] for d in days] == [f"2024-01-0{i}" for i in range(1, 6)]
    assert [d["market_value"] for d in days] == pytest.approx(
        [40000, 71520, 45130, 43824.45, 44979.09]
    )
    assert [d["unpriced"] for d in days] == [0, 0, 1, 2, 1]
    window = _ok(owner, path, start="2024-01-02", end="2024-01-03")
    assert (window["count"], window["days"][0]["realized_pnl"]) == (2, 0)
    assert window["days"][1]["realized_pnl"] == pytest.approx(-611)
    assert _ok(owner, path, start="2024-01-04", end="2024-01-01")["count"] == 0
    bad = owner.get(path, params={"start": "yesterday"})
    assert bad.status_code == 422 and "start" in bad.text


def test_another_users_portfolio_is_not_found(
    base_url: str, users: dict[Role, ApiCredentials], books: dict[str, int]
) -> None:
    stranger = users[Role.EXPLORER].headers
    with httpx.Client(base_url=base_url, headers=stranger, timeout=60) as client:
        for route in ROUTES:
            for portfolio_id in (books["fifo"], 2**31 - 1):  # theirs reads as none at all
                answer = client.get(f"/portfolios/{portfolio_id}/{route}")
                assert answer.status_code == 404, answer.text
                assert answer.json() == {"detail": f"no portfolio {portfolio_id}"}
    with httpx.Client(base_url=base_url, timeout=60) as anonymous:
        assert anonymous.get(f"/portfolios/{books['fifo']}/valuation").status_code == 401
