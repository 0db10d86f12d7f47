"""The simulated source: determinism, response shapes, validation, settings, framework."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import numpy as np
import pytest

from pipelines.core.errors import ConfigurationError, NotFoundError
from pipelines.core.settings import Settings
from pipelines.ingestion.base import FetchWindow, SourceRequest
from pipelines.ingestion.registry import get_connector, known_sources
from pipelines.ingestion.simulated import (
    EVENT_TEMPLATES,
    NEWS_TEMPLATES,
    SimulatedSource,
    coinapi_bases,
    price_params,
    us_bond_market_holidays,
)
from tests.pipelines.ingestion.simulated.sim_factory import (
    ASSETS,
    BAR_KEYS,
    BY_ID,
    START,
    lines,
    make_asset,
    parse_coinapi,
    source,
)

# --- determinism -----------------------------------------------------------------------------


def test_same_arguments_give_byte_identical_envelopes() -> None:
    first = source(days=5, fault_rate=0.01)
    second = source(days=5, fault_rate=0.01)
    assert lines(list(first.collect(first.window))) == lines(list(second.collect(second.window)))


SMALL_RUN = """
import datetime as dt, hashlib
from tests.pipelines.ingestion.simulated.sim_factory import ASSETS, START, SimulatedSource
end = START + dt.timedelta(days=2)
sim = SimulatedSource(ASSETS, seed=7, start=START, end=end, fault_rate=0.01)
text = "\\n".join(e.to_json_line() for e in sim.collect(sim.window))
print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_output_does_not_depend_on_the_process() -> None:
    """Seeds come from SHA-256, not hash(): another interpreter (other hash seed) agrees."""
    sim = source(days=2, fault_rate=0.01)
    here = hashlib.sha256("\n".join(lines(list(sim.collect(sim.window)))).encode()).hexdigest()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", SMALL_RUN], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()
    assert here == there


def test_another_seed_gives_other_numbers() -> None:
    one, other = source(days=2, datasets=["prices"]), source(days=2, seed=8, datasets=["prices"])
    assert lines(list(one.collect(one.window))) != lines(list(other.collect(other.window)))


def test_adding_an_asset_leaves_the_others_unchanged() -> None:
    extra = make_asset("usdt", "USDT", "stablecoin")
    before = source(days=5, fault_rate=0.01, datasets=["prices", "onchain", "economic"])
    after = source(
        [*ASSETS, extra], days=5, fault_rate=0.01, datasets=["prices", "onchain", "economic"]
    )
    old = lines(list(before.collect(before.window)))
    new = lines(list(after.collect(after.window)))
    assert set(old) < set(new)
    assert len(new) - len(old) == 2 * 5  # prices + on-chain for 5 days of the new asset


def test_extending_the_span_never_rewrites_earlier_days() -> None:
    short, longer = source(days=10, fault_rate=0.01), source(days=12, fault_rate=0.01)
    assert lines(list(short.collect(short.window))) == lines(list(longer.collect(short.window)))


def test_a_narrow_window_returns_the_same_envelopes_as_the_full_one(
    clean: SimulatedSource,
) -> None:
    day = FetchWindow.for_days(dt.date(2024, 2, 10), 1)
    narrow = [e for e in clean.collect(day) if e.dataset != "economic"]
    full = {e.ingest_id for e in clean.collect(clean.window)}
    assert narrow and {e.ingest_id for e in narrow} <= full


def test_fetched_at_follows_the_data_not_the_wall_clock(clean: SimulatedSource) -> None:
    for envelope in clean.collect(FetchWindow.for_days(dt.date(2024, 3, 1), 1)):
        assert envelope.fetched_at.tzinfo == dt.UTC
        if envelope.dataset == "prices":
            covered = dt.datetime.fromisoformat(envelope.params["time_end"])
            lag = envelope.fetched_at - covered
            assert dt.timedelta(minutes=1) <= lag <= dt.timedelta(minutes=10)


# --- shapes ------------------------------------------------------------------------------


def test_price_envelopes_have_the_coinapi_shape(clean: SimulatedSource) -> None:
    envelopes = [
        e
        for e in clean.collect(FetchWindow.for_days(dt.date(2024, 1, 5), 1))
        if e.dataset == "prices"
    ]
    assert len(envelopes) == len(ASSETS)
    for envelope in envelopes:
        assert envelope.source == "simulated"
        assert envelope.endpoint == "/v1/ohlcv/{symbol_id}/history"
        assert envelope.params == {
            "symbol_id": envelope.params["symbol_id"],
            "period_id": "1HRS",
            "time_start": "2024-01-05T00:00:00Z",
            "time_end": "2024-01-06T00:00:00Z",
        }
        assert re.fullmatch(r"SIM_SPOT_[A-Z0-9]+_USD", envelope.params["symbol_id"])
        assert len(envelope.payload) == 24
        for bar in envelope.payload:
            assert set(bar) == BAR_KEYS
            start, end = (
                parse_coinapi(bar["time_period_start"]),
                parse_coinapi(bar["time_period_end"]),
            )
            assert end - start == dt.timedelta(hours=1)
            if bar["trades_count"]:
                assert (
                    start
                    <= parse_coinapi(bar["time_open"])
                    <= parse_coinapi(bar["time_close"])
                    < end
                )
            assert all(
                isinstance(bar[k], float) for k in BAR_KEYS if k.startswith(("price", "vol"))
            )
            assert isinstance(bar["trades_count"], int)


@pytest.mark.parametrize(("frequency", "period_id", "per_day"), [
    ("1m", "1MIN", 1440), ("5m", "5MIN", 288), ("15m", "15MIN", 96), ("1h", "1HRS", 24),
])  # fmt: skip
def test_bar_count_is_days_times_bars_per_day(frequency: Any, period_id: str, per_day: int) -> None:
    sim = source(ASSETS[:3], days=2, frequency=frequency, datasets=["prices"])
    envelopes = list(sim.collect(sim.window))
    assert len(envelopes) == 2 * 3
    for envelope in envelopes:
        assert envelope.params["period_id"] == period_id
        starts = [parse_coinapi(b["time_period_start"]) for b in envelope.payload]
        assert len(starts) == per_day
        assert starts[0] == dt.datetime.fromisoformat(envelope.params["time_start"])
        assert len(set(np.diff(np.array(starts)))) == 1  # evenly spaced, no gaps


def test_a_window_part_of_a_day_returns_only_its_bars(clean: SimulatedSource) -> None:
    window = FetchWindow(START + dt.timedelta(hours=30), START + dt.timedelta(hours=36))
    envelopes = [e for e in clean.collect(window) if e.dataset == "prices"]
    assert {len(e.payload) for e in envelopes} == {6}
    assert envelopes[0].payload[0]["time_period_start"] == "2024-01-02T06:00:00.0000000Z"


def test_a_window_outside_the_span_yields_nothing(clean: SimulatedSource) -> None:
    assert list(clean.collect(FetchWindow.for_days(dt.date(2023, 1, 1), 3))) == []


def test_onchain_envelopes_are_daily_metric_lists(clean: SimulatedSource) -> None:
    envelopes = [
        e
        for e in clean.collect(FetchWindow.for_days(dt.date(2024, 2, 1), 1))
        if e.dataset == "onchain"
    ]
    assert {e.params["asset"] for e in envelopes} == set(BY_ID)
    for envelope in envelopes:
        (record,) = envelope.payload
        assert record["timestamp"] == "2024-02-01T00:00:00Z"
        assert isinstance(record["holders"], int) and record["holders"] > 0
        assert isinstance(record["transfer_count"], int) and record["transfer_count"] >= 0
        for key in ("transfer_volume_usd", "total_supply", "dex_liquidity_usd",
                    "exchange_inflow_usd", "exchange_outflow_usd"):  # fmt: skip
            assert record[key] >= 0
        model = price_params(BY_ID[envelope.params["asset"]]).model
        if model in ("accruing_nav", "stable_nav", "private_credit"):
            assert record["nav_usd"] > 0
        else:
            assert record["nav_usd"] is None


def test_economic_envelopes_have_the_fred_shape(clean: SimulatedSource) -> None:
    envelopes = {
        e.params["series_id"]: e for e in clean.collect(clean.window) if e.dataset == "economic"
    }
    assert set(envelopes) == {"DTB3", "DFF", "DGS10", "CPIAUCSL"}
    holidays = us_bond_market_holidays(2024)
    for series_id, envelope in envelopes.items():
        assert envelope.endpoint == "/fred/series/observations"
        assert envelope.params["file_type"] == "json"
        payload = envelope.payload
        assert payload["count"] == len(payload["observations"]) > 0
        assert payload["observation_start"] == "2024-01-01"
        assert payload["observation_end"] == "2024-03-30"
        dates = [dt.date.fromisoformat(o["date"]) for o in payload["observations"]]
        assert dates == sorted(dates)
        for obs, day in zip(payload["observations"], dates, strict=True):
            assert isinstance(obs["value"], str)
            if obs["value"] == ".":
                assert series_id in ("DTB3", "DGS10") and day in holidays
            else:
                float(obs["value"])
        if series_id in ("DTB3", "DGS10"):
            assert all(day.weekday() < 5 for day in dates)
            assert dt.date(2024, 1, 15) in dates  # Martin Luther King Jr. Day: listed, no value
        elif series_id == "DFF":
            assert len(dates) == 90  # every calendar day, as FRED publishes it
        else:
            assert dates == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]  # March not yet released


def test_news_envelopes_have_the_newsapi_shape(clean: SimulatedSource) -> None:
    envelopes = [e for e in clean.collect(clean.window) if e.dataset == "news"]
    assert len(envelopes) == 90
    names = [(a.name, a.symbol) for a in ASSETS]
    for envelope in envelopes:
        payload = envelope.payload
        assert payload["status"] == "ok"
        assert payload["totalResults"] == len(payload["articles"]) >= 1
        published = [a["publishedAt"] for a in payload["articles"]]
        assert published == sorted(published, reverse=True)
        for article in payload["articles"]:
            assert set(article) == {"source", "author", "title", "description", "url",
                                    "urlToImage", "publishedAt", "content"}  # fmt: skip
            assert article["source"]["id"] is None and article["urlToImage"] is None
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", article["publishedAt"])
            assert envelope.params["from"] <= article["publishedAt"] < envelope.params["to"]
            assert any(n in article["title"] or s in article["title"] for n, s in names) or (
                "Example Issuer" in article["title"]
            )
            assert re.search(r"… \[\+\d+ chars\]$", article["content"])


def test_news_tone_follows_the_market(clean: SimulatedSource) -> None:
    tones: Counter[str] = Counter()
    templates = {t: tone for tone, ts in NEWS_TEMPLATES.items() for t in ts}
    templates |= {t: tone for tone, t in EVENT_TEMPLATES.values()}
    patterns = [(re.compile(re.escape(t).replace(r"\{", "{").replace(r"\}", "}")
                 .replace("{name}", ".+").replace("{symbol}", ".+").replace("{issuer}", ".+")
                 .replace("{pct}", ".+").replace("{price}", ".+") + "$"), tone)
                for t, tone in templates.items()]  # fmt: skip
    for envelope in clean.collect(clean.window):
        if envelope.dataset == "news":
            for article in envelope.payload["articles"]:
                tones[next(tone for p, tone in patterns if p.match(article["title"]))] += 1
    assert set(tones) == {"positive", "negative", "neutral"}


# --- validation, settings, framework ----------------------------------------------------------


def test_invalid_arguments_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match="bar grid"):
        SimulatedSource(
            ASSETS, seed=1, start=START + dt.timedelta(minutes=30), end=START + dt.timedelta(days=1)
        )
    with pytest.raises(ConfigurationError, match="frequency"):
        source(frequency="2h")
    with pytest.raises(ConfigurationError, match="fault_rate"):
        source(fault_rate=1.5)
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        SimulatedSource(ASSETS, seed=1, start=dt.datetime(2024, 1, 1), end=dt.datetime(2024, 1, 2))
    with pytest.raises(ConfigurationError, match="listed twice"):
        source([ASSETS[0], ASSETS[0]])
    with pytest.raises(ConfigurationError, match="datasets"):
        source(datasets=["weather"])


def test_unknown_requests_are_not_found(clean: SimulatedSource) -> None:
    with pytest.raises(NotFoundError, match="symbol_id"):
        clean.fetch(SourceRequest("prices", "/v1/ohlcv/{symbol_id}/history", {
            "symbol_id": "SIM_SPOT_NOPE_USD", "time_start": "2024-01-01T00:00:00Z",
            "time_end": "2024-01-02T00:00:00Z",
        }))  # fmt: skip
    with pytest.raises(NotFoundError, match="series_id"):
        clean.fetch(SourceRequest("economic", "/fred/series/observations", {"series_id": "GDP"}))


def test_from_settings_builds_the_configured_span() -> None:
    settings = Settings(sim_seed=3, sim_days=5, sim_end=dt.date(2024, 3, 1), sim_frequency="15m",
                        sim_assets=["btc", "usdc"])  # fmt: skip
    sim = SimulatedSource.from_settings(settings.simulation, ASSETS)
    assert sim.window == FetchWindow.for_days(dt.date(2024, 2, 25), 5)
    assert [a.asset_id for a in sim.assets] == ["btc", "usdc"]
    assert sim.frequency == "15m" and sim.seed == 3
    with pytest.raises(ConfigurationError, match="RWA_SIM_ASSETS"):
        SimulatedSource.from_settings(Settings(sim_assets=["nope"]).simulation, ASSETS)


def test_fetch_window_is_utc_and_half_open() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    window = FetchWindow(
        dt.datetime(2024, 1, 1, 1, tzinfo=paris), dt.datetime(2024, 1, 3, tzinfo=dt.UTC)
    )
    assert window.start == START and window.start.tzinfo == dt.UTC
    assert window.days() == [dt.date(2024, 1, 1), dt.date(2024, 1, 2)]
    with pytest.raises(ValueError, match="timezone-aware"):
        FetchWindow(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    with pytest.raises(ValueError, match="after start"):
        FetchWindow(START, START)


def test_registry_builds_connectors_by_name() -> None:
    assert "simulated" in known_sources()
    settings = Settings(sim_seed=1, sim_days=1, sim_end=dt.date(2024, 1, 2))
    sim = get_connector("simulated", settings.sources, settings.simulation, ASSETS[:1])
    assert isinstance(sim, SimulatedSource)
    assert sim.window == FetchWindow(START, START + dt.timedelta(days=1))
    with pytest.raises(ConfigurationError, match=r"known sources: .*simulated"):
        get_connector("coinbase-pro", settings.sources, settings.simulation, ASSETS)


def test_us_bond_market_holidays_2024() -> None:
    assert us_bond_market_holidays(2024) == {
        dt.date(2024, 1, 1), dt.date(2024, 1, 15), dt.date(2024, 2, 19), dt.date(2024, 5, 27),
        dt.date(2024, 6, 19), dt.date(2024, 7, 4), dt.date(2024, 9, 2), dt.date(2024, 10, 14),
        dt.date(2024, 11, 11), dt.date(2024, 11, 28), dt.date(2024, 12, 25),
    }  # fmt: skip


def test_the_packaged_catalog_simulates_with_unique_symbols() -> None:
    reference = pytest.importorskip("pipelines.reference")
    loader = getattr(reference, "load_assets", None)
    if loader is None:
        pytest.skip("the packaged asset catalog is not available yet")
    loaded = loader()
    assets = list(getattr(loaded, "assets", loaded))
    assert len(coinapi_bases(assets)) == len(assets)
    sim = SimulatedSource(assets, seed=1, start=START, end=START + dt.timedelta(days=1))
    envelopes = list(sim.collect(sim.window))
    assert sum(e.dataset == "prices" for e in envelopes) == len(assets)
