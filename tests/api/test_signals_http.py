"""``/assets/{id}/signals`` and ``/signals`` against a running server (one for the module, over
a DuckDB store loaded with real backtests' readings): the newest reading of each signal with
its direction, strength, dated inputs and its backtest beside buy-and-hold over the stated
window; filters, sort and paging; the explorer tier's 403, no credentials' 401, an unknown
asset's 404 and bad parameters' 422. Both stores' reads: tests/pipelines/serving/
test_store_signals.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from api.accounts.principal import Role
from pipelines.reference import load_assets
from pipelines.serving.duckdb_store import DuckDBStore
from tests.api.live_server import running_server
from tests.fixtures.accounts import ApiCredentials, accounts_settings, provision
from tests.fixtures.signals import DAYS, LAST_DAY, backtest, signal_table

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Running:
    base_url: str
    professional: ApiCredentials
    explorer: ApiCredentials

    def client(self, who: ApiCredentials | None = None) -> httpx.Client:
        headers = (who or self.professional).headers
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir: Path = tmp_path_factory.mktemp("signals")
    settings = accounts_settings(workdir)
    professional, explorer = (provision(settings, r) for r in (Role.PROFESSIONAL, Role.EXPLORER))
    served = workdir / "serving.duckdb"
    with DuckDBStore(served) as store:
        store.migrate()
        store.upsert_assets(load_assets())
        store.upsert_signals(signal_table(["btc", "eth", "usdc"], LAST_DAY - dt.timedelta(1)))
        store.upsert_signals(signal_table(["btc", "eth"]))  # usdc keeps yesterday's
    with running_server(served, workdir, professional) as base_url:
        yield Running(base_url, professional, explorer)


def test_one_assets_signals_with_inputs_and_backtests(running: Running) -> None:
    with running.client() as http:
        answer = http.get("/assets/btc/signals")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["asset_id"] == "btc"
    signals = {s["signal"]: s for s in body["signals"]}
    assert sorted(signals) == ["forecast", "risk", "sentiment"]
    expected = backtest("btc")
    for reading in expected.readings:
        served = signals[reading.signal]
        assert served["as_of"] == "2026-06-30"
        assert served["generated_at"] == "2026-07-01T00:00:00Z"
        assert served["direction"] == reading.direction
        assert served["strength"] == pytest.approx(reading.strength)
        assert served["inputs"] == pytest.approx(reading.inputs)
        assert served["inputs"]["date"] == "2026-06-30"
        assert served["rule"] == reading.rule
        assert served["window_start"] == str(LAST_DAY - dt.timedelta(DAYS - 1))
        assert served["window_end"] == "2026-06-30" and served["days"] == DAYS - 1
        figures = reading.performance
        for name in ("total_return", "sharpe", "sortino", "max_drawdown", "exposure"):
            assert served[name] == pytest.approx(getattr(figures, name)), name
        assert served["hold_total_return"] == pytest.approx(expected.buy_and_hold.total_return)
        assert served["hold_sharpe"] == pytest.approx(expected.buy_and_hold.sharpe)
    assert signals["sentiment"]["direction"] == 1 and signals["risk"]["direction"] == 0
    assert signals["forecast"]["hit_rate"] is None  # the naive forecast never held a position


def test_the_list_filters_sorts_and_pages(running: Running) -> None:
    with running.client() as http:
        everything = http.get("/signals", params={"limit": 500}).json()
        assert everything["total"] == 9
        ids = [(s["asset_id"], s["signal"]) for s in everything["signals"]]
        assert ids == sorted(ids)
        usdc = http.get("/signals", params={"asset": "usdc"}).json()["signals"]
        assert {s["as_of"] for s in usdc} == {"2026-06-29"}  # its newest, a day older
        stable = http.get("/signals", params={"asset_class": "stablecoin"}).json()
        assert {s["asset_id"] for s in stable["signals"]} == {"usdc"}
        risk = http.get("/signals", params={"signal": "risk", "direction": 0}).json()
        assert risk["total"] == 3 and {s["signal"] for s in risk["signals"]} == {"risk"}
        strongest = http.get("/signals", params={"sort": "-strength", "limit": 2, "offset": 1})
        page = strongest.json()
        assert page["total"] == 9 and len(page["signals"]) == 2 and page["offset"] == 1
        strengths = [s["strength"] for s in everything["signals"]]
        assert [s["strength"] for s in page["signals"]] == sorted(strengths, reverse=True)[1:3]
        assert http.get("/signals", params={"asset": "nope"}).json()["total"] == 0


def test_hostile_paths(running: Running) -> None:
    with running.client(running.explorer) as http:
        refused = http.get("/assets/btc/signals")
        assert refused.status_code == 403
        assert refused.json()["detail"] == (
            "signals with their backtests requires the professional tier or above"
        )
        assert http.get("/signals").status_code == 403
    with httpx.Client(base_url=running.base_url, timeout=60) as anonymous:
        assert anonymous.get("/signals").status_code == 401
    with running.client() as http:
        assert http.get("/assets/nope/signals").status_code == 404
        for params in ({"direction": 2}, {"signal": "momentum"}, {"limit": 0}, {"sort": "x"}):
            bad = http.get("/signals", params=params)
            assert bad.status_code == 422, params
            assert next(iter(params)) in bad.text
        assert http.post("/signals").status_code == 405  # read-only: nothing places orders
