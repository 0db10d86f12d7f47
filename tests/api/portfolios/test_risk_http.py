"""``GET /portfolios/{id}/risk`` against a running server: a portfolio recorded over HTTP gets
its VaR and ES by every method, concentration, pegged exposure, scores and 30-day value, each
named, valued at the served closes; an empty portfolio and a holding listed ten days ago get a
200 that says what is missing; another user's portfolio is a 404, the explorer tier a 403, no
credentials a 401, a bad id a 422. One server on SQLite (a server costs 10 s; the reads behind
it are tested on both serving stores in test_risk_assess.py, the ownership rule on both
databases by the portfolio tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.accounts.principal import Role
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.live_server import running_server
from tests.api.portfolios.served_risk import closes, load_risk_data
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Running:
    base_url: str
    owner: ApiCredentials
    other: ApiCredentials
    explorer: ApiCredentials

    def client(self, who: ApiCredentials | None = None) -> httpx.Client:
        headers = (who or self.owner).headers
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir: Path = tmp_path_factory.mktemp("portfolio-risk")
    settings = accounts_settings(workdir)
    owner, other, explorer = (
        provision(settings, role) for role in (Role.PROFESSIONAL, Role.PROFESSIONAL, Role.EXPLORER)
    )
    served = workdir / "serving.duckdb"
    with DuckDBStore(served) as store:
        store.migrate()
        load_risk_data(store)
    with running_server(served, workdir, owner) as base_url:
        yield Running(base_url, owner, other, explorer)


def buy(http: httpx.Client, portfolio: int, asset: str, quantity: str, price: str) -> None:
    body = {
        "kind": "buy",
        "asset_id": asset,
        "quantity": quantity,
        "price": price,
        "executed_at": "2024-01-02T00:00:00Z",
    }
    answer = http.post(f"/portfolios/{portfolio}/transactions", json=body)
    assert answer.status_code == 201, answer.text


def risk(http: httpx.Client, portfolio: int) -> dict[str, Any]:
    answer = http.get(f"/portfolios/{portfolio}/risk")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_a_portfolio_risk_over_http(running: Running) -> None:
    with running.client() as http:
        made = http.post("/portfolios", json={"name": "Risky"})
        assert made.status_code == 201, made.text
        pid = made.json()["id"]
        empty = risk(http, pid)
        assert empty["value"] == 0 and empty["var"] == [] and empty["holdings"] == []
        assert empty["missing"] == ["the portfolio holds nothing: there is no risk to measure"]

        for asset, quantity, price in (
            ("btc", "0.125", "40000"),
            ("ousg", "30", "100"),
            ("usdc", "2000", "1"),
        ):
            buy(http, pid, asset, quantity, price)
        body = risk(http, pid)
    last = {a: float(v[-1]) for a, (_, v) in closes().items()}
    worth = {"btc": 0.125 * last["btc"], "ousg": 30 * last["ousg"], "usdc": 2000 * last["usdc"]}
    assert body["value"] == pytest.approx(sum(worth.values()))
    assert {h["asset_id"]: h["value"] for h in body["holdings"]} == pytest.approx(worth)
    assert sum(h["weight"] for h in body["holdings"]) == pytest.approx(1.0)
    assert len(body["var"]) == 12 and body["window"]["returns"] > 20
    methods = {r["method"] for r in body["var"]}
    assert len(methods) == 3 and all(m.startswith(("historical", "parametric")) for m in methods)
    assert {r["horizon_method"] for r in body["var"] if r["horizon_days"] == 10} == {
        "square root of time on the 1-day figure"
    }
    for section in ("pegged", "scores", "forecast", "window"):
        assert body[section]["method"], section
    assert all(c["method"] for c in body["concentration"])
    assert body["pegged"]["pegged_assets"] == ["usdc"]
    assert body["forecast"]["not_forecast"] == ["usdc"]


def test_too_little_history_is_a_clear_answer(running: Running) -> None:
    with running.client() as http:
        pid = http.post("/portfolios", json={"name": "New"}).json()["id"]
        buy(http, pid, "btc", "1", "40000")
        buy(http, pid, "newcoin", "100", "1")
        body = risk(http, pid)
    assert body["var"] == [] and body["window"] is None
    said = " ".join(body["missing"])
    assert "only 9 daily returns" in said and "newcoin (10 closes)" in said
    assert body["concentration"] and body["scores"]["composite"] is not None


def test_hostile_paths(running: Running) -> None:
    with running.client() as http:
        pid = http.post("/portfolios", json={"name": "Mine"}).json()["id"]
    with running.client(running.other) as http:
        theirs = http.get(f"/portfolios/{pid}/risk")
        none = http.get("/portfolios/999999/risk")
    assert theirs.status_code == none.status_code == 404
    assert theirs.json()["detail"].replace(str(pid), "N") == none.json()["detail"].replace(
        "999999", "N"
    )
    with running.client(running.explorer) as http:
        assert http.get(f"/portfolios/{pid}/risk").status_code == 403
    with httpx.Client(base_url=running.base_url, timeout=60) as anonymous:
        assert anonymous.get(f"/portfolios/{pid}/risk").status_code == 401
    with running.client() as http:
        bad = http.get("/portfolios/0/risk")
        assert bad.status_code == 422 and "portfolio_id" in bad.text
