"""The risk methodology: deterministic, moving the right way, and explained by its factors."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from models.risk.engine import CLASS_WEIGHTS, DEFAULT_WEIGHTS, score_asset
from models.risk.factors import linear_scale, log_scale, to_score
from models.risk.market import LOOKBACK_DAYS, MarketHistory, depeg_episodes
from pipelines.contracts.reference import Asset
from pipelines.reference import load_assets

AS_OF = dt.date(2026, 6, 30)


def asset(asset_id: str) -> Asset:
    return next(a for a in load_assets() if a.asset_id == asset_id)


def random_walk(
    vol_daily: float, days: int = 90, start: float = 100.0, seed: int = 7
) -> MarketHistory:
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, vol_daily, days)))
    return MarketHistory(
        close=close,
        high=close * (1 + vol_daily / 2),
        low=close * (1 - vol_daily / 2),
        amihud=1e-4,
        zero_volume_share=0.0,
        dex_liquidity_usd=None,
    )


def pegged(days: int = 90, depeg_at: tuple[int, ...] = (), depth: float = 0.0) -> MarketHistory:
    rng = np.random.default_rng(3)
    close = 1.0 + rng.normal(0.0, 0.0002, days)
    low, high = close - 0.0003, close + 0.0003
    for day in depeg_at:
        close[day], low[day] = 1.0 - depth / 2, 1.0 - depth
    return MarketHistory(
        close, high, low, amihud=1e-6, zero_volume_share=0.0, dex_liquidity_usd=5e8
    )


def test_the_same_inputs_give_the_same_score() -> None:
    first = score_asset(asset("btc"), random_walk(0.03), AS_OF)
    second = score_asset(asset("btc"), random_walk(0.03), AS_OF)
    assert first == second
    assert first.factors_json() == second.factors_json()


def test_more_volatility_means_more_market_risk() -> None:
    calm = score_asset(asset("btc"), random_walk(0.01), AS_OF)
    wild = score_asset(asset("btc"), random_walk(0.05), AS_OF)
    assert wild.sub_scores["market"] > calm.sub_scores["market"]
    assert wild.composite > calm.composite
    assert wild.sub_scores["credit"] == calm.sub_scores["credit"]  # only the market moved
    assert wild.top_factors(1)[0]["factor"] == "volatility_annualised"


def test_a_depeg_raises_a_stablecoins_score_and_is_named() -> None:
    usdc = asset("usdc")
    steady = score_asset(usdc, pegged(), AS_OF)
    broken = score_asset(usdc, pegged(depeg_at=(60, 61, 62, 80), depth=0.08), AS_OF)
    assert steady.pegged and broken.pegged
    assert broken.sub_scores["market"] > steady.sub_scores["market"] + 20
    assert broken.composite > steady.composite
    top = [f["factor"] for f in broken.top_factors(3)]
    assert "depeg_episodes" in top or "peg_worst_deviation" in top


def test_depeg_episodes_count_runs_of_days() -> None:
    history = pegged(depeg_at=(10, 11, 12, 40), depth=0.02)
    assert depeg_episodes(history) == 2


def test_a_stable_nav_fund_token_is_treated_as_pegged_but_an_accruing_one_is_not() -> None:
    assert score_asset(asset("buidl"), pegged(), AS_OF).pegged
    accruing = random_walk(0.0002, start=1.08)
    assert not score_asset(asset("usdy"), accruing, AS_OF).pegged


def test_class_weights_shift_the_composite() -> None:
    assert DEFAULT_WEIGHTS == {
        "market": 0.30,
        "credit": 0.25,
        "regulatory": 0.25,
        "technical": 0.20,
    }
    for weights in CLASS_WEIGHTS.values():
        assert sum(weights.values()) == pytest.approx(1.0)
    score = score_asset(asset("btc"), random_walk(0.03), AS_OF)
    expected = sum(score.sub_scores[k] * w for k, w in CLASS_WEIGHTS["crypto"].items())
    assert abs(score.composite - expected) <= 2  # sub-scores are rounded before this sum


def test_reference_facts_move_their_sub_scores() -> None:
    history = random_walk(0.002, start=100.0)
    registered = score_asset(asset("benji"), history, AS_OF)
    offshore_private = score_asset(asset("buidl"), history, AS_OF)
    assert registered.sub_scores["regulatory"] < offshore_private.sub_scores["regulatory"]
    treasuries = score_asset(asset("ousg"), history, AS_OF)
    loans = score_asset(asset("syrupusdc"), history, AS_OF)
    assert loans.sub_scores["credit"] > treasuries.sub_scores["credit"]


def test_without_price_history_the_score_says_so() -> None:
    empty = MarketHistory(np.array([]), np.array([]), np.array([]), None, None, None)
    score = score_asset(asset("ousg"), empty, AS_OF)
    factors = {f["factor"] for f in json.loads(score.factors_json())["all"]}
    assert "price_history" in factors
    assert 1 <= score.composite <= 100


def test_factors_explain_the_composite() -> None:
    score = score_asset(asset("eth"), random_walk(0.04), AS_OF)
    body = json.loads(score.factors_json())
    total = sum(f["contribution"] for f in body["all"])
    assert total == pytest.approx(score.composite, abs=1.0)
    assert (
        len(body["top"]) == 5 and body["top"][0]["contribution"] >= body["top"][-1]["contribution"]
    )


def test_scales() -> None:
    assert log_scale(0.001, 0.001, 1.0) == 0 and log_scale(1.0, 0.001, 1.0) == 100
    assert log_scale(0.0316, 0.001, 1.0) == pytest.approx(50, abs=0.1)
    assert linear_scale(0.25, 0.0, 0.5) == 50
    assert to_score(0.2) == 1 and to_score(140) == 100


def trailing(close: np.ndarray, day: int) -> MarketHistory:
    """What the risk step hands the engine on ``day``: the bars of the trailing
    ``LOOKBACK_DAYS`` (daily bars, as for a crypto asset)."""
    bars = close[max(0, day + 1 - LOOKBACK_DAYS) : day + 1]
    return MarketHistory(bars, bars * 1.002, bars * 0.998, 1e-4, 0.0, None)


def test_a_shock_fades_out_of_the_market_score_without_a_jump() -> None:
    rng = np.random.default_rng(21)
    returns = rng.normal(0.0, 0.01, 1200)
    shock = 300
    returns[shock] = -0.25
    close = 100.0 * np.exp(np.cumsum(returns))
    btc = asset("btc")
    days = range(shock - 1, shock + LOOKBACK_DAYS + 30)
    market = [score_asset(btc, trailing(close, d), AS_OF).sub_scores["market"] for d in days]
    assert market[1] - market[0] >= 10  # the shock itself is news
    steps = np.abs(np.diff(market[1:]))  # from the day after the shock on
    assert steps.max() < 10, f"a day-to-day change of {steps.max()} points while the shock aged"
    assert market[-1] < market[1] - 10  # and it does fade


def test_the_market_score_separates_a_calm_from_a_volatile_asset() -> None:
    # same standardised Student-t shocks, daily volatility 0.8% vs 2% (about 15% vs 38% a year)
    shocks = np.random.default_rng(22).standard_t(5, 800) / np.sqrt(5 / 3)
    calm = 100.0 * np.exp(np.cumsum(0.008 * shocks))
    volatile = 100.0 * np.exp(np.cumsum(0.02 * shocks))
    btc = asset("btc")
    last = shocks.size - 1
    gap = (
        score_asset(btc, trailing(volatile, last), AS_OF).sub_scores["market"]
        - score_asset(btc, trailing(calm, last), AS_OF).sub_scores["market"]
    )
    assert gap >= 17  # risk-rules-1.0 (61 returns, wide scales): 14 points


def test_a_constant_nav_token_has_no_price_tail_and_a_new_token_is_still_scored() -> None:
    flat = np.ones(400)
    constant = MarketHistory(flat, flat, flat, 1e-6, 0.0, 5e8)
    score = score_asset(asset("buidl"), constant, AS_OF)
    factors = {f["factor"]: f for f in json.loads(score.factors_json())["all"]}
    assert score.pegged
    assert factors["var_95_1d"]["value"] == 0.0 and factors["var_95_1d"]["points"] == 0.0
    assert factors["expected_shortfall_975_1d"]["value"] == 0.0
    assert factors["peg_worst_deviation"]["points"] == 0.0

    young = random_walk(0.03, days=30)  # a token listed a month ago
    factors = {
        f["factor"]: f
        for f in json.loads(score_asset(asset("eth"), young, AS_OF).factors_json())["all"]
    }
    assert "price_history" not in factors
    assert (
        0.0
        < float(factors["var_95_1d"]["value"])
        < float(factors["expected_shortfall_975_1d"]["value"])
    )


def test_a_depeg_fades_with_its_age_instead_of_leaving_a_window() -> None:
    usdc = asset("usdc")
    days = 400
    rng = np.random.default_rng(3)
    close = 1.0 + rng.normal(0.0, 0.0002, days + 200)
    low, high = close - 0.0003, close + 0.0003
    close[days - 100], low[days - 100] = 0.96, 0.92  # one de-peg day
    market = []
    for day in range(days - 100, days + 100):
        bars = slice(max(0, day + 1 - LOOKBACK_DAYS), day + 1)
        history = MarketHistory(close[bars], high[bars], low[bars], 1e-6, 0.0, 5e8)
        market.append(score_asset(usdc, history, AS_OF).sub_scores["market"])
    assert np.abs(np.diff(market)).max() < 10
    assert market[0] > market[-1] + 10
