"""The simulated models: consistent bars, per-class price behaviour, injected faults."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from pipelines.ingestion.simulated import (
    ACCEPTED_FAULTS,
    FAULT_KINDS,
    QUARANTINE_FAULTS,
    SimulatedSource,
    price_params,
)
from tests.pipelines.ingestion.simulated.sim_factory import (
    ASSETS,
    BY_ID,
    HOURS_PER_YEAR,
    START,
    closes,
    log_returns,
    make_asset,
    parse_coinapi,
    source,
)

# --- bars and per-class behaviour -------------------------------------------------------------


def test_bars_are_consistent_without_faults(clean_prices: dict[str, list[dict[str, Any]]]) -> None:
    for asset_id, bars in clean_prices.items():
        assert len(bars) == 90 * 24, asset_id
        previous_close = None
        for bar in bars:
            o, h, low, c = (bar[f"price_{k}"] for k in ("open", "high", "low", "close"))
            assert h >= max(o, c) and low <= min(o, c) and low > 0, (asset_id, bar)
            assert bar["volume_traded"] >= 0 and bar["trades_count"] >= 0
            if previous_close is not None:
                assert o == pytest.approx(previous_close, rel=1e-9)
            previous_close = c


def test_stablecoins_hold_the_peg_outside_de_pegs(
    clean: SimulatedSource, clean_prices: dict[str, list[dict[str, Any]]]
) -> None:
    for asset_id in ("usdc", "dai"):
        starts = [parse_coinapi(b["time_period_start"]) for b in clean_prices[asset_id]]
        episodes = [e for e in clean.events(asset_id) if e.kind == "depeg"]
        calm = np.array([not any(e.start <= t <= e.end for e in episodes) for t in starts])
        price = closes(clean_prices[asset_id])[calm]
        assert abs(price.mean() - 1.0) < 2e-4  # within 2 bp
        assert 1e-5 < price.std() < 1e-3  # a few bp of noise


def test_stablecoins_de_peg_and_recover() -> None:
    coins = [make_asset(f"coin-{i}", f"COIN{i}", "stablecoin") for i in range(6)]
    sim = source(coins, days=365, datasets=["prices"])
    episodes = 0
    for coin in coins:
        bars = sim._simulated(coin).bars  # whole-span arrays: faster than a year of envelopes
        for event in (e for e in sim.events(coin.asset_id) if e.kind == "depeg"):
            episodes += 1
            first = int((event.start - START) / dt.timedelta(hours=1))
            last = min(int((event.end - START) / dt.timedelta(hours=1)), len(bars.close) - 1)
            trough = bars.close[first : last + 1].min()
            assert 0.92 < trough < 0.995
            assert trough == pytest.approx(1 - event.magnitude, abs=0.01)
            if last < len(bars.close) - 1:
                assert abs(bars.close[last] - 1.0) < 2e-3  # recovered
            assert bars.volume[first : last + 1].max() > 3 * np.median(bars.volume)
    assert episodes >= 2  # 1 per coin-year expected


def test_accumulating_treasury_tokens_accrue_their_yield(
    clean_prices: dict[str, list[dict[str, Any]]],
) -> None:
    for asset_id in ("ousg", "usdy"):
        price = closes(clean_prices[asset_id])
        years = np.arange(len(price)) / HOURS_PER_YEAR
        slope = np.polyfit(years, np.log(price), 1)[0]
        assert slope == pytest.approx(price_params(BY_ID[asset_id]).annual_yield, abs=0.004)
        assert np.std(np.diff(np.log(price))) < 5e-4  # smooth: tiny noise


def test_stable_nav_funds_stay_at_one_dollar_and_grow_supply(
    clean: SimulatedSource, clean_prices: dict[str, list[dict[str, Any]]]
) -> None:
    price = closes(clean_prices["buidl"])
    assert abs(price.mean() - 1.0) < 5e-5 and np.abs(price - 1.0).max() < 1e-3
    supply = [
        e.payload[0]["total_supply"]
        for e in clean.collect(clean.window)
        if e.dataset == "onchain" and e.params["asset"] == "buidl"
    ]
    assert supply[-1] > supply[0]


def test_private_credit_accrues_and_is_marked_down_rarely() -> None:
    pools = [make_asset(f"pool-{i}", f"POOL{i}", "private_credit") for i in range(8)]
    sim = source(pools, days=365, datasets=["prices"])
    markdowns = 0
    for pool in pools:
        bars = sim._simulated(pool).bars
        events = [e for e in sim.events(pool.asset_id) if e.kind == "markdown"]
        markdowns += len(events)
        for event in events:
            i = int((event.start - START) / dt.timedelta(hours=1))
            assert bars.close[i] < bars.close[i - 1] * (1 - 0.015)
        if not events:
            years = np.arange(len(bars.close)) / HOURS_PER_YEAR
            slope = np.polyfit(years, np.log(bars.close), 1)[0]
            assert 0.08 <= slope <= 0.12
    assert 1 <= markdowns <= 12  # 0.5 per pool-year expected


def test_crypto_has_realistic_volatility_and_fat_tails(
    clean_prices: dict[str, list[dict[str, Any]]],
) -> None:
    for asset_id in ("btc", "eth"):
        r = log_returns(clean_prices[asset_id])
        vol = r.std() * math.sqrt(HOURS_PER_YEAR)
        kurtosis = ((r - r.mean()) ** 4).mean() / r.var() ** 2
        assert 0.3 < vol < 1.1, (asset_id, vol)
        assert kurtosis > 3.0, (asset_id, kurtosis)
        # GARCH: big moves follow big moves, so |returns| are autocorrelated.
        assert abs_return_autocorrelation(r) > 0.05, asset_id


def abs_return_autocorrelation(r: np.ndarray, lags: int = 10) -> float:
    """Mean autocorrelation of |r| over lags 1..``lags`` (about 0 for independent returns)."""
    x = np.abs(r) - np.abs(r).mean()
    return float(np.mean([(x[k:] * x[:-k]).mean() / x.var() for k in range(1, lags + 1)]))


def test_gold_moves_like_gold(clean_prices: dict[str, list[dict[str, Any]]]) -> None:
    r = log_returns(clean_prices["paxg"])
    assert 0.10 < r.std() * math.sqrt(HOURS_PER_YEAR) < 0.20
    assert abs(abs_return_autocorrelation(r)) < 0.05  # a plain random walk: no clustering


def test_real_estate_trades_thinly(clean_prices: dict[str, list[dict[str, Any]]]) -> None:
    bars = clean_prices["realt-a"]
    idle = [b for b in bars if b["volume_traded"] == 0]
    assert len(idle) > 0.6 * len(bars)
    for bar in idle:
        assert bar["trades_count"] == 0 and bar["time_open"] is None and bar["time_close"] is None
        assert bar["price_open"] == bar["price_high"] == bar["price_low"] == bar["price_close"]
    traded = [b for b in bars if b["volume_traded"] > 0]
    assert traded and all(b["trades_count"] >= 1 for b in traded)


# --- faults ----------------------------------------------------------------------------------


def test_faults_appear_at_the_configured_rate_and_only_of_documented_kinds() -> None:
    rate = 0.01
    faulty, clean = source(days=30, fault_rate=rate), source(days=30, fault_rate=0.0)
    faulty_bars = {e.ingest_id: e for e in faulty.collect(faulty.window) if e.dataset == "prices"}
    clean_bars = [e for e in clean.collect(clean.window) if e.dataset == "prices"]
    kinds: Counter[str] = Counter()
    total = 0
    pairs = zip(clean_bars, faulty_bars.values(), strict=True)
    for good_envelope, bad_envelope in pairs:
        for good, bad in zip(good_envelope.payload, bad_envelope.payload, strict=True):
            total += 1
            if good != bad:
                kinds[classify_fault(good, bad)] += 1
    n = sum(kinds.values())
    expected = rate * total
    assert abs(n - expected) < 4 * math.sqrt(expected), (n, expected)
    assert set(kinds) == set(FAULT_KINDS)
    recorded = Counter(
        e.kind.removeprefix("fault:")
        for a in ASSETS
        for e in faulty.events(a.asset_id)
        if e.kind.startswith("fault:")
    )
    assert recorded == kinds
    assert set(FAULT_KINDS) == QUARANTINE_FAULTS | ACCEPTED_FAULTS
    assert not QUARANTINE_FAULTS & ACCEPTED_FAULTS


def classify_fault(good: dict[str, Any], bad: dict[str, Any]) -> str:
    """Which documented defect turned ``good`` into ``bad`` (fails on anything else)."""
    changed = {k for k in good if good[k] != bad[k]}
    if bad["time_period_start"] is None:
        assert changed == {"time_period_start"}
        return "null_time"
    if isinstance(bad["price_close"], str):
        assert changed == {"price_open", "price_high", "price_low", "price_close"}
        assert all(float(bad[k]) == good[k] for k in changed)
        return "numeric_string"
    if bad["price_close"] <= 0:
        assert changed == {"price_close"}
        return "non_positive_price"
    assert changed == {"price_high", "price_low"} and bad["price_high"] < bad["price_low"]
    return "high_below_low"


def test_a_higher_fault_rate_faults_a_superset_of_bars() -> None:
    def faults(rate: float) -> set[tuple[str, dt.datetime]]:
        sim = source(days=20, fault_rate=rate, datasets=["prices"])
        return {(a.asset_id, e.start) for a in ASSETS for e in sim.events(a.asset_id)
                if e.kind.startswith("fault:")}  # fmt: skip

    low, high = faults(0.002), faults(0.02)
    assert low and low < high
