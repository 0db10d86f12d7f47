"""``gold/macro_asof``: no look-ahead (a value is invisible before its ``realtime_start``), US
series for every asset, World Bank series by issuer jurisdiction."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.gold.macro import MACRO_COLUMNS, jurisdiction_country
from pipelines.reference import load_assets
from tests.pipelines.gold import pandas_reference as ref
from tests.pipelines.gold.conftest import GoldLake
from tests.pipelines.gold.silver_sets import silver_economic_frame, silver_prices_frame

KEY = ("asset_id", "date", "series_id", "region")


def test_macro_asof_equals_brute_force_as_of_lookup(gold_lake: GoldLake) -> None:
    countries = {
        asset.asset_id: jurisdiction_country(asset.jurisdiction) for asset in load_assets()
    }
    want = ref.macro(silver_economic_frame(), silver_prices_frame(), countries)
    got = gold_lake.gold("macro_asof", KEY)
    ref.assert_columns_equal(
        got, want.sort_values(list(KEY)).reset_index(drop=True), list(MACRO_COLUMNS)
    )


def _value(
    gold_lake: GoldLake, asset_id: str, day: dt.date, series_id: str, region: str = "USA"
) -> float | None:
    gold = gold_lake.gold("macro_asof", KEY).set_index(list(KEY))
    key = (asset_id, day, series_id, region)
    return float(gold.loc[key, "value"]) if key in gold.index else None


def test_a_late_published_value_is_invisible_before_its_realtime_start(gold_lake: GoldLake) -> None:
    # December CPI (observed 2025-12-01) is published on 2026-01-12; January's only on 02-12.
    assert _value(gold_lake, "btc", dt.date(2026, 1, 11), "CPIAUCSL") == 3.1
    assert _value(gold_lake, "btc", dt.date(2026, 1, 12), "CPIAUCSL") == 3.2
    assert _value(gold_lake, "btc", dt.date(2026, 2, 9), "CPIAUCSL") == 3.2
    # DFF is published the day after it is observed; the holiday's null keeps the last value.
    assert _value(gold_lake, "paxg", dt.date(2026, 1, 10), "DFF") == pytest.approx(4.08)
    assert _value(gold_lake, "paxg", dt.date(2026, 1, 20), "DFF") == pytest.approx(4.17)
    assert _value(gold_lake, "paxg", dt.date(2026, 1, 21), "DFF") == pytest.approx(4.19)


def test_world_bank_series_follow_the_issuer_jurisdiction(gold_lake: GoldLake) -> None:
    gold = gold_lake.gold("macro_asof", KEY)
    world_bank = gold[gold["series_id"] == "FP.CPI.TOTL.ZG"]
    # paxg's issuer is in New York; btc is decentralised and ousg has no jurisdiction on file.
    assert set(world_bank["asset_id"]) == {"paxg"}
    assert set(world_bank["region"]) == {"USA"}
    assert _value(gold_lake, "paxg", dt.date(2026, 1, 19), "FP.CPI.TOTL.ZG") == 2.9
    assert _value(gold_lake, "paxg", dt.date(2026, 1, 20), "FP.CPI.TOTL.ZG") == 2.7


def test_every_calendar_day_of_the_asset_span_is_covered(gold_lake: GoldLake) -> None:
    dff = gold_lake.gold("macro_asof", KEY).query("series_id == 'DFF' and asset_id == 'ousg'")
    # ousg trades on weekdays, yet the as-of view covers weekends between its bars too.
    assert len(dff) == (dt.date(2026, 2, 9) - dt.date(2026, 1, 1)).days + 1


@pytest.mark.parametrize(
    ("jurisdiction", "iso3"),
    [
        ("United States", "USA"),
        ("United States (Delaware)", "USA"),
        ("United States (New York)", "USA"),
        ("British Virgin Islands", "VGB"),
        ("Cayman Islands (fund)", "CYM"),
        ("Switzerland", "CHE"),
        ("El Salvador (relocated from the British Virgin Islands in 2025)", "SLV"),
        ("none (decentralised protocol)", None),
        ("none (decentralised network)", None),
        ("Atlantis", None),
        (None, None),
    ],
)
def test_jurisdiction_country(jurisdiction: str | None, iso3: str | None) -> None:
    assert jurisdiction_country(jurisdiction) == iso3


def test_every_reference_jurisdiction_is_mapped_or_deliberately_none() -> None:
    unmapped = {
        asset.jurisdiction
        for asset in load_assets()
        if asset.jurisdiction is not None and jurisdiction_country(asset.jurisdiction) is None
    }
    assert unmapped == {"none (decentralised protocol)", "none (decentralised network)"}
