"""Malformed bronze through the real silver step (real Spark, Delta and quality gate): a bad
record is quarantined with a reason that says what is wrong, the valid records beside it land,
and a rerun changes nothing. (Issue 10, items 1 and 3; the generated-payload properties are in
``test_parser_properties.py``.)"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.ingestion.coingecko import OHLC_ENDPOINT
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import reconcile
from tests.fixtures.lake import MakeSettings, lake_of
from tests.pipelines.silver.bronze_factory import (
    DAY0,
    hourly_bars,
    land,
    land_lines,
    price_envelope,
    wrap,
)

pytestmark = pytest.mark.usefixtures("spark")

UTC = dt.UTC
#: The candle of the issue: close time, open, high, low -- and no close.
FOUR_NUMBER_CANDLE = [1763640000000, 3000, 3010, 2990]
CANDLE_MS = 4 * 3600 * 1000  # days=7: 4-hour candles


def quarantine(settings: Settings, dataset: str = "prices") -> list[dict[str, Any]]:
    rows = (
        DeltaLake(settings.lake, settings.spark)
        .to_arrow(LakePaths(settings.lake).quarantine)
        .to_pylist()
    )
    return sorted(
        (r for r in rows if r["dataset"] == dataset), key=lambda r: (r["reason"], r["raw"])
    )


def silver_prices(settings: Settings) -> list[dict[str, Any]]:
    table = DeltaLake(settings.lake, settings.spark).to_arrow(
        LakePaths(settings.lake).silver("prices")
    )
    return table.sort_by([("asset_id", "ascending"), ("ts", "ascending")]).to_pylist()


def ohlc_envelope(candles: list[list[Any]], fetched: dt.datetime) -> Any:
    params = {"id": "ethereum", "vs_currency": "usd", "days": 7}
    return wrap("coingecko", "prices", OHLC_ENDPOINT, candles, fetched, params)


def test_four_number_candle_is_quarantined_and_valid_bars_land(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(quality_max_failure_share=0.5)
    closes = [1763640000000 - k * CANDLE_MS for k in (3, 2, 1)]
    valid = [[ms, 3000.0 + k, 3010.0 + k, 2990.0 + k, 3005.0 + k] for k, ms in enumerate(closes)]
    fetched = dt.datetime(2025, 11, 21, tzinfo=UTC)
    land(Path(settings.lake.root), [ohlc_envelope([*valid, FOUR_NUMBER_CANDLE], fetched)])

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    rows = silver_prices(settings)
    assert [r["close"] for r in rows] == [3005.0, 3006.0, 3007.0]
    assert {r["volume"] for r in rows} == {None}  # CoinGecko OHLC has no volume: null, not 0
    refused = quarantine(settings)
    assert [(r["reason"], json.loads(r["raw"])) for r in refused] == [
        ("candle has fewer than 5 values", [str(v) for v in FOUR_NUMBER_CANDLE])
    ]
    assert (report.records_in, report.inserted, report.quarantined) == (4, 3, 1)
    assert reconcile(*lake_of(settings), "prices").ok

    rerun = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert rerun.records_in == 0
    assert silver_prices(settings) == rows
    assert quarantine(settings) == refused


def test_non_finite_and_absurd_values_are_refused_naming_the_field(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    bars = hourly_bars(DAY0, 100.0, hours=9)
    bars[0]["price_high"] = "Infinity"
    bars[1]["volume_traded"] = "Infinity"
    bars[2]["price_low"] = "-Infinity"
    bars[3]["price_close"] = "NaN"
    bars[4]["price_high"] = 1e308
    bars[5]["volume_traded"] = "1e308"
    bars[6]["price_open"] = float("inf")  # written by json.dumps as the literal Infinity
    bars[7]["volume_traded"] = float("nan")  # the literal NaN
    del bars[8]["volume_traded"]  # no volume published: null, kept
    fetched = DAY0 + dt.timedelta(days=1)
    land(Path(settings.lake.root), [price_envelope("BTC", bars, fetched)])

    steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert [r["reason"] for r in sorted(quarantine(settings), key=lambda r: r["raw"])] == [
        "field 'price_high' is not a finite number",
        "field 'volume_traded' is not a finite number",
        "field 'price_low' is not a finite number",
        "field 'price_close' is not a finite number",
        "field 'price_high' is out of range (beyond ±1e+12)",
        "field 'volume_traded' is out of range (beyond ±1e+18)",
        "field 'price_open' is not a finite number",
        "field 'volume_traded' is not a finite number",
    ]
    (kept,) = silver_prices(settings)
    assert kept["ts"] == DAY0 + dt.timedelta(hours=8)
    assert kept["volume"] is None


def test_envelope_lines_get_a_true_reason(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    fetched = DAY0 + dt.timedelta(days=1)
    bars = hourly_bars(DAY0, 100.0, hours=1)
    good = json.loads(price_envelope("BTC", bars, fetched).to_json_line())
    # a zero-width space, an emoji, full-width letters
    odd_symbols = ["BTC\u200b", "BTC🚀", "\uff22\uff34\uff23"]
    envelopes = [
        *(
            {"params": {"symbol_id": f"SIMEX_SPOT_{s}_USD", "period_id": "1HRS"}}
            for s in odd_symbols
        ),
        {"schema_version": 2},
        {"schema_version": None},
        # major version 1, however it is written: accepted
        {"schema_version": 1.0},
        {"schema_version": "1"},
        {"schema_version": "1.0"},
    ]
    land_lines(
        Path(settings.lake.root),
        [
            "",
            "   ",
            "[1, 2]",
            # white space past the prefix the text checks read first
            " " * 300 + "[1, 2]",
            "\t" * 300 + json.dumps(good | {"ingest_id": "padded"}),
            *(
                # own ingest ids: identical refusals of one fetch are one quarantine row
                json.dumps(good | change | {"ingest_id": f"id{n}"}, ensure_ascii=n % 2 == 0)
                for n, change in enumerate(envelopes)
            ),
        ],
    )

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    symbol = "symbol_id has characters other than ASCII letters, digits and . _ + -"
    assert sorted(r["reason"] for r in quarantine(settings)) == sorted(
        [
            "blank line",
            "blank line",
            "line is not a JSON object",
            "line is not a JSON object",
            symbol,
            symbol,
            symbol,
            "unsupported envelope schema_version '2' (silver reads major version 1)",
            "envelope field 'schema_version' is missing",
        ]
    )
    assert report.records_in == 4 + 5 + 4
    (bar,) = silver_prices(settings)  # the four version-1 lines carry the same bar
    assert (bar["asset_id"], bar["ts"]) == ("btc", DAY0)
