"""``api.portfolios.risk.assess`` on both serving stores: what it reads for the held assets
gives the figures the pure maths gives on the same closes, each with its method; thin data
(nothing held, nothing priced, a coin listed ten days ago) is said in ``missing``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from api.portfolios.risk import FORECAST_HORIZON_DAYS, Holdings, assess
from models.risk import portfolio
from models.risk.exposure import DEPEG_SCENARIO
from models.risk.market import LOOKBACK_DAYS
from models.risk.tail import tail_forecast
from pipelines.serving.store import ServingStore
from tests.api.portfolios.served_risk import FORECASTS, LAST, SCORES, closes, load_risk_data

VALUES = {"btc": 5000.0, "ousg": 3000.0, "usdc": 2000.0}


def held(values: dict[str, float], unpriced: tuple[str, ...] = ()) -> Holdings:
    return Holdings(7, "USD", LAST, values, {a: 1.0 for a in values}, unpriced)


@pytest.fixture
def served(store: ServingStore) -> ServingStore:
    load_risk_data(store)
    return store


def test_a_three_asset_portfolio_on_both_stores(served: ServingStore) -> None:
    out = assess(served, held(VALUES))
    assert (out.portfolio_id, out.value, out.currency) == (7, 10_000.0, "USD")
    assert [(h.asset_id, h.weight, h.pegged) for h in out.holdings] == [
        ("btc", 0.5, False),
        ("ousg", 0.3, False),
        ("usdc", 0.2, True),
    ]
    # the window: days every asset closed (OUSG's weekdays), returns between them
    series = closes()
    ousg_days = [t.date().isoformat() for t in series["ousg"][0]]
    assert out.window is not None
    assert (out.window.start, out.window.end) == (ousg_days[1], ousg_days[-1])
    assert out.window.returns == len(ousg_days) - 1 and out.window.lookback_days == LOOKBACK_DAYS
    span = (series["ousg"][0][-1] - series["ousg"][0][0]).days + 1
    assert out.window.gap_days == span - len(ousg_days)  # the weekends inside it
    # every method x level x horizon, each named; amounts are shares of the value
    assert len(out.var) == 12 and all(r.method for r in out.var)
    assert {r.method.split(":")[0] for r in out.var} == {"historical", "parametric"}
    for r in out.var:
        assert r.var_amount == pytest.approx(r.var_share * 10_000)
        assert 0 < r.var_log <= r.es_log
    # the historical 1-day 99% is the pure maths on the same closes
    weekday = {t.date() for t in series["ousg"][0]}
    joint = np.array(
        [
            np.diff(np.log([c for t, c in zip(*series[a], strict=True) if t.date() in weekday]))
            for a in ("btc", "ousg", "usdc")
        ]
    )
    expected = portfolio.historical_risk(joint, np.array([0.5, 0.3, 0.2]), 0.99)
    one_day = next(r for r in out.var if r.level == 0.99 and r.horizon_days == 1)
    assert one_day.method == portfolio.HISTORICAL and one_day.var_log == pytest.approx(expected.var)

    by = {c.by: c for c in out.concentration}
    assert by["asset"].hhi == pytest.approx(0.25 + 0.09 + 0.04)
    assert by["network"].shares == pytest.approx({"ethereum": 0.5, "bitcoin": 0.5})
    assert by["issuer"].shares["Circle"] == pytest.approx(0.2)
    assert out.pegged is not None and out.pegged.pegged_assets == ["usdc"]
    assert out.pegged.scenario_loss == pytest.approx(2000 * (1 - DEPEG_SCENARIO["stablecoin"][0]))

    assert out.scores is not None and out.scores.unscored == ["usdc"]
    assert out.scores.composite == pytest.approx((0.5 * 62 + 0.3 * 30) / 0.8)
    assert out.scores.market == pytest.approx((0.5 * SCORES["btc"][1] + 0.3 * 12) / 0.8)
    assert "risk-rules-2.0" in out.scores.method
    assert [h.composite_score for h in out.holdings] == [62, 30, None]

    forecast = out.forecast
    assert forecast is not None and forecast.horizon_days == FORECAST_HORIZON_DAYS
    assert forecast.value == pytest.approx(5000 * 1.05 + 3000 * 1.004 + 2000)
    assert forecast.not_forecast == ["usdc"] and forecast.forecast_share == pytest.approx(0.8)
    # correlation aggregation with the window's correlation of BTC and OUSG
    down = np.array([5000 * (1.05 - 0.80), 3000 * (1.004 - 0.998)])
    rho = np.corrcoef(joint[0], joint[1])[0, 1]
    width = math.sqrt(down[0] ** 2 + down[1] ** 2 + 2 * rho * down[0] * down[1])
    assert forecast.lower_95 == pytest.approx(forecast.value - width)
    assert forecast.lower_95 > forecast.value - down.sum()  # not the plain sum of quantiles
    assert "correlation" in forecast.method
    assert any("usdc" in m and "forecast" in m for m in out.missing)


def test_one_holding_gets_the_engine_own_figures(served: ServingStore) -> None:
    out = assess(served, held({"btc": 1000.0}))
    btc = np.diff(np.log(closes()["btc"][1]))
    for r in out.var:
        if r.horizon_days == 1 and r.method == portfolio.HISTORICAL:
            assert r.var_log == tail_forecast(btc, r.level).var
    assert out.forecast is not None
    low, high = FORECASTS["btc"][3], FORECASTS["btc"][4]
    assert (out.forecast.lower_95, out.forecast.upper_95) == pytest.approx(
        (1000 * low, 1000 * high)
    )
    assert out.concentration[0].hhi == 1.0


def test_thin_data_is_said_not_raised(served: ServingStore) -> None:
    short = assess(served, held({"btc": 1000.0, "newcoin": 500.0}))
    assert short.var == [] and short.window is None
    said = " ".join(short.missing)
    assert "VaR and ES: only 9 daily returns" in said and "newcoin (10 closes)" in said
    # what needs no history is still there
    assert short.concentration and short.scores is not None and short.forecast is not None
    assert "plain sum" in short.forecast.method  # no correlation from 9 returns

    empty = assess(served, held({}))
    assert empty.value == 0.0 and empty.holdings == [] and empty.var == []
    assert empty.missing == ["the portfolio holds nothing: there is no risk to measure"]

    unpriced = assess(served, held({}, unpriced=("mystery",)))
    assert unpriced.unpriced == ["mystery"] and unpriced.var == []
    assert unpriced.missing == ["mystery: no served close or NAV, left out of every figure"]
    assert math.isclose(unpriced.value, 0.0)
