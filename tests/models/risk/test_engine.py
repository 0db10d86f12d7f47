"""The risk methodology: deterministic, moving the right way, and explained by its factors."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from models.risk.engine import CLASS_WEIGHTS, DEFAULT_WEIGHTS, score_asset
from models.risk.factors import linear_scale, log_scale, to_score
from models.risk.market import MarketHistory, depeg_episodes
from pipelines.reference import load_assets
from pipelines.reference.model import Asset

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
