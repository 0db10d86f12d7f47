"""Concentration, pegged exposure, value-weighted scores and the 30-day value band: hand cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.risk.exposure import (
    AssetForecast,
    Position,
    concentration,
    hhi,
    peg_exposure,
    value_forecast,
    value_shares,
    weighted_scores,
)


def position(
    asset: str,
    value: float,
    asset_class: str = "crypto",
    issuer: str | None = None,
    network: str = "ethereum",
    pegged: bool = False,
    price: float | None = None,
) -> Position:
    return Position(asset, value, asset_class, issuer, network, pegged, price)


BOOK = [
    position("ousg", 500.0, asset_class="tokenized_treasury", issuer="Ondo", pegged=False),
    position("usdy", 200.0, asset_class="tokenized_treasury", issuer="Ondo"),
    position("usdc", 200.0, asset_class="stablecoin", issuer="Circle", pegged=True, price=1.0),
    position("btc", 100.0, network="bitcoin"),
    position("gone", 0.0),  # sold out: no share, no group
]


def test_hhi_hand_cases() -> None:
    assert hhi([1.0]) == 1.0
    assert hhi([0.5, 0.5]) == 0.5
    assert hhi([0.25] * 4) == 0.25
    by_asset = concentration(BOOK, "asset")
    assert by_asset.hhi == pytest.approx(0.5**2 + 0.2**2 + 0.2**2 + 0.1**2)  # 0.34
    assert by_asset.effective_count == pytest.approx(1 / 0.34)
    assert list(by_asset.shares) == ["ousg", "usdc", "usdy", "btc"]  # largest first, then name
    by_issuer = concentration(BOOK, "issuer")
    # Ondo holds 70%; bitcoin's missing issuer is its own, not shared with anyone
    assert by_issuer.shares == pytest.approx(
        {"Ondo": 0.7, "Circle": 0.2, "btc (issuer unknown)": 0.1}
    )
    assert by_issuer.hhi == pytest.approx(0.49 + 0.04 + 0.01)
    by_network = concentration(BOOK, "network")
    assert by_network.hhi == pytest.approx(0.9**2 + 0.1**2)
    assert "sum of squared value shares" in by_network.method
    with pytest.raises(ValueError, match="sector"):
        concentration(BOOK, "sector")


def test_shares_sum_to_one_and_an_empty_book_has_none() -> None:
    assert sum(value_shares(BOOK).values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="worth nothing"):
        value_shares([position("gone", 0.0)])


def test_peg_exposure_and_its_scenario() -> None:
    book = [
        *BOOK,
        position("buidl", 100.0, asset_class="money_market_fund", issuer="BlackRock", pegged=True),
        position("dai", 100.0, asset_class="stablecoin", pegged=True, price=0.98),
    ]
    peg = peg_exposure(book)
    assert peg.pegged_assets == ("usdc", "buidl", "dai")
    assert peg.pegged_value == 400.0 and peg.pegged_share == pytest.approx(400 / 1200)
    # usdc $1 -> $0.87 loses 13%; buidl (price unknown: $1) -> $0.97, 3%; dai $0.98 -> $0.87
    loss = 200 * 0.13 + 100 * 0.03 + 100 * (1 - 0.87 / 0.98)
    assert peg.scenario_loss == pytest.approx(loss)
    assert peg.scenario_share == pytest.approx(loss / 1200)
    assert "USDC at $0.87" in peg.scenario["usdc"] and "Reserve Primary" in peg.scenario["buidl"]
    none = peg_exposure([position("btc", 10.0)])
    assert none.pegged_share == 0.0 and none.scenario_loss == 0.0


def test_scores_are_value_weighted_over_what_is_scored() -> None:
    scores = {
        "ousg": {"composite": 20, "market": 10, "credit": 30, "regulatory": 20, "technical": None},
        "usdc": {"composite": 40, "market": 30, "credit": 50, "regulatory": 40, "technical": 20},
        "btc": {"composite": 70, "market": 90, "credit": 5, "regulatory": 60, "technical": 40},
    }
    mix = weighted_scores(BOOK, scores, ["risk-rules-2.0", "risk-rules-2.0"])
    # usdy (20%) has no score: the means run over the other 80%
    assert mix.scored_share == pytest.approx(0.8) and mix.unscored == ("usdy",)
    assert mix.scores["composite"] == pytest.approx((0.5 * 20 + 0.2 * 40 + 0.1 * 70) / 0.8)
    # technical is missing for ousg too: the mean of usdc and btc only
    assert mix.scores["technical"] == pytest.approx((0.2 * 20 + 0.1 * 40) / 0.3)
    assert "risk-rules-2.0" in mix.method
    nothing = weighted_scores(BOOK, {})
    assert nothing.scores["composite"] is None and nothing.scored_share == 0.0


def band(asset: str, ratio: float, half80: float, half95: float) -> AssetForecast:
    return AssetForecast(
        asset, ratio, ratio - half80, ratio + half80, ratio - half95, ratio + half95
    )


def test_one_asset_gets_back_its_own_band() -> None:
    forecast = AssetForecast("btc", 1.10, 0.95, 1.30, 0.85, 1.45)  # asymmetric, as forecasts are
    out = value_forecast([position("btc", 1000.0)], {"btc": forecast}, 30, (["btc"], np.eye(1)))
    assert (out.value, out.lower_80, out.upper_80) == pytest.approx((1100.0, 950.0, 1300.0))
    assert (out.lower_95, out.upper_95) == pytest.approx((850.0, 1450.0))
    assert out.forecast_share == 1.0 and out.not_forecast == ()


def test_bands_combine_by_correlation_not_by_sum() -> None:
    book = [position("a", 600.0), position("b", 400.0), position("c", 100.0)]
    forecasts = {"a": band("a", 1.0, 0.10, 0.20), "b": band("b", 1.05, 0.05, 0.10)}
    order = ["a", "b", "c"]
    widths = np.array([600 * 0.20, 400 * 0.10])  # 95% half-widths in dollars: 120 and 40

    def lower_95(rho: float) -> float:
        corr = np.array([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 1.0]])
        return value_forecast(book, forecasts, 30, (order, corr)).lower_95

    point = 600 + 420 + 100  # c has no forecast: held at today's value
    assert lower_95(1.0) == pytest.approx(point - widths.sum())  # the plain sum of quantiles
    assert lower_95(0.0) == pytest.approx(point - math.hypot(*widths))  # quadrature
    assert lower_95(-1.0) == pytest.approx(point - abs(widths[0] - widths[1]))  # a hedge
    assert lower_95(1.0) < lower_95(0.3) < lower_95(0.0)
    out = value_forecast(book, forecasts, 30, None)  # no joint history: as if rho = 1
    assert out.lower_95 == pytest.approx(point - widths.sum())
    assert "plain sum" in out.method
    assert out.not_forecast == ("c",) and out.forecast_share == pytest.approx(1000 / 1100)
