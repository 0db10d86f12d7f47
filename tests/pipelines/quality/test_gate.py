"""Each row-level expectation refuses what it should, with its words as the reason, and passes
good data; valid + rejected is the input, in order."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from pipelines.core.errors import ConfigurationError, DataContractError
from pipelines.core.settings import Settings
from pipelines.lake.paths import LakePaths
from pipelines.quality.gate import QualityGate
from tests.pipelines.quality.silver_rows import FETCHED, SCHEMAS, silver_rows

PAIR = "expect_column_pair_values_a_to_be_greater_than_b"
BETWEEN = "expect_column_values_to_be_between"
NOT_NULL = "expect_column_values_to_not_be_null"


def reasons(gate: QualityGate, dataset: str, *rows: dict[str, Any]) -> list[str]:
    """The reason of each row ('' = accepted), in input order."""
    outcome = gate.check(dataset, silver_rows(dataset, *rows), batch_id=0, run_id="t")
    refused = iter(outcome.rejected.column("reason").to_pylist())
    accepted = set(outcome.valid.column("ingest_id").to_pylist())
    return ["" if f"r{i}" in accepted else next(refused) for i in range(len(rows))]


def tagged(*rows: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows with distinct ingest ids r0, r1, ... so a test can tell them apart."""
    return [{"ingest_id": f"r{i}"} | row for i, row in enumerate(rows)]


def stablecoin_bar(price: float) -> dict[str, Any]:
    return {"asset_id": "usdc", "open": price, "high": price, "low": price, "close": price}


# --- prices ---------------------------------------------------------------------------------
def test_a_good_bar_passes_and_a_bar_with_high_below_close_is_refused_naming_the_rule(gate):
    got = reasons(gate, "prices", *tagged({}, {"high": 104.0}))
    assert got == ["", f"quality: high must be >= close ({PAIR})"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"close": 0.0, "low": 0.0}, f"quality: close must be > 0 ({BETWEEN})"),
        ({"close": None}, f"quality: close must not be null ({NOT_NULL})"),
        ({"asset_id": None}, f"quality: asset_id must not be null ({NOT_NULL})"),
        ({"volume": -1.0}, f"quality: volume must be >= 0 ({BETWEEN})"),
        ({"low": 101.0}, f"quality: open must be >= low ({PAIR})"),
        ({"high": 99.0, "low": 90.0}, f"quality: high must be >= open ({PAIR})"),
        (
            {"ts": dt.datetime(2008, 12, 31, tzinfo=dt.UTC)},
            f"quality: ts must not be before 2009-01-01 ({BETWEEN})",
        ),
        (
            {"ts": FETCHED + dt.timedelta(minutes=11)},
            f"quality: ts must not be after fetched_at + 10 min ({PAIR})",
        ),
    ],
)
def test_each_price_rule_refuses_its_defect(gate, change, reason):
    (got,) = reasons(gate, "prices", *tagged(change))
    assert reason in got.split("; ")


def test_several_failures_of_one_row_are_joined(gate):
    (reason,) = reasons(gate, "prices", *tagged({"high": 90.0, "low": 95.0, "volume": -2.0}))
    assert reason.split("; ") == [
        f"quality: high must be >= open ({PAIR})",
        f"quality: high must be >= close ({PAIR})",
        f"quality: high must be >= low ({PAIR})",
        f"quality: volume must be >= 0 ({BETWEEN})",
    ]


def test_volume_may_be_missing_and_a_clock_skew_is_tolerated(gate):
    rows = tagged({"volume": None}, {"ts": FETCHED + dt.timedelta(minutes=9)})
    assert reasons(gate, "prices", *rows) == ["", ""]


def test_a_depegged_stablecoin_passes_a_stablecoin_at_0_2_fails_a_crypto_at_0_2_passes(gate):
    rows = tagged(
        stablecoin_bar(0.95), stablecoin_bar(0.2), stablecoin_bar(0.2) | {"asset_id": "btc"}
    )
    assert reasons(gate, "prices", *rows) == [
        "",
        f"quality: a stablecoin's close must be within 0.5-1.5 USD ({BETWEEN})",
        "",
    ]


def test_valid_plus_rejected_is_the_input_in_order(gate):
    changes = [{"high": 1.0} if i % 3 == 0 else {} for i in range(30)]
    rows = silver_rows("prices", *tagged(*changes))
    outcome = gate.check("prices", rows, batch_id=0, run_id="t")
    ids = rows.column("ingest_id").to_pylist()
    assert outcome.valid.column("ingest_id").to_pylist() == [i for i in ids if int(i[1:]) % 3]
    assert outcome.rejected.column("ingest_id").to_pylist() == ids[::3]
    assert outcome.valid.schema == rows.schema
    assert outcome.rejected.drop_columns(["reason"]).schema == rows.schema
    assert outcome.rejected_share == pytest.approx(10 / 30)


def test_an_empty_batch_gives_empty_outcomes(gate):
    empty = SCHEMAS["prices"].empty_table()
    outcome = gate.check("prices", empty, batch_id=0, run_id="t")
    assert outcome.valid.num_rows == outcome.rejected.num_rows == 0
    assert outcome.rejected.column_names == [*empty.column_names, "reason"]


def test_misuse_raises_and_bad_data_does_not(gate):
    with pytest.raises(ConfigurationError, match="no quality suite for dataset 'trades'"):
        gate.check("trades", silver_rows("prices", {}), batch_id=0, run_id="t")
    with pytest.raises(DataContractError, match="lack silver column"):
        gate.check(
            "prices", silver_rows("prices", {}).drop_columns(["high"]), batch_id=0, run_id="t"
        )
    all_null = {c: None for c in ("asset_id", "resolution", "ts", "open", "high", "low", "close")}
    assert reasons(gate, "prices", *tagged(all_null))[0].count("must not be null") == 7


# --- onchain --------------------------------------------------------------------------------
def day(n: int) -> dict[str, Any]:
    ts = dt.datetime(2026, 2, 20, tzinfo=dt.UTC) + dt.timedelta(days=n)
    return {"ts": ts, "date": ts.date()}


def test_negative_metrics_are_refused_and_missing_ones_pass(gate):
    rows = tagged({"holders": -1}, {"tvl_usd": -5.0}, {"holders": None, "nav_usd": None})
    assert reasons(gate, "onchain", *rows) == [
        f"quality: holders must be >= 0 ({BETWEEN})",
        f"quality: tvl_usd must be >= 0 ({BETWEEN})",
        "",
    ]


NAV_JUMP = f"quality: nav_usd must change at most 25% from the previous day ({BETWEEN})"


def test_a_nav_jump_of_40_percent_within_the_batch_fails(gate):
    # Listed out of time order: the previous day is found by time, per asset and source.
    rows = tagged(
        day(2) | {"nav_usd": 140.0},
        day(1) | {"nav_usd": 100.0},
        day(3) | {"nav_usd": 141.0},
        day(2) | {"nav_usd": 50.0, "source": "defillama"},
    )
    assert reasons(gate, "onchain", *rows) == [NAV_JUMP, "", "", ""]


def test_a_series_starting_mid_batch_is_compared_with_silver(gate, settings: Settings):
    silver = silver_rows("onchain", day(0) | {"nav_usd": 100.0}, day(1) | {"nav_usd": 100.5})
    write_deltalake(LakePaths(settings.lake).silver("onchain"), silver, partition_by=["date"])
    rows = tagged(day(2) | {"nav_usd": 140.0}, day(2) | {"nav_usd": 101.0, "asset_id": "buidl"})
    assert reasons(gate, "onchain", *rows) == [NAV_JUMP, ""]
    assert reasons(gate, "onchain", *tagged(day(2) | {"nav_usd": 101.0})) == [""]
    # The batch's own row replaces silver's row of the same key.
    assert reasons(gate, "onchain", *tagged(day(1) | {"nav_usd": 130.0})) == [NAV_JUMP]


# --- economic -------------------------------------------------------------------------------
def test_economic_rules(gate):
    rows = tagged(
        {},
        {"value": None},
        {"value": float("inf"), "series_id": "FP.CPI.TOTL.ZG"},
        {"value": 450.0},
        {"value": 80.0, "series_id": "FP.CPI.TOTL.ZG", "region": "ARG"},
        {"observation_date": dt.date(2026, 3, 3)},
        {"region": None},
    )
    assert reasons(gate, "economic", *rows) == [
        "",
        "",
        f"quality: value must be finite ({BETWEEN})",
        f"quality: a nominal interest rate must be within -5..50 percent ({BETWEEN})",
        "",
        f"quality: observation_date must not be after the fetch date ({PAIR})",
        f"quality: region must not be null ({NOT_NULL})",
    ]


# --- news -----------------------------------------------------------------------------------
def test_news_rules(gate):
    rows = tagged(
        {},
        {"url": None},
        {"url": "", "outlet": None},
        {"title": "   "},
        {"title": None},
        {"published_at": FETCHED + dt.timedelta(hours=1)},
        {"published_at": dt.datetime(1998, 1, 1, tzinfo=dt.UTC)},
    )
    assert reasons(gate, "news", *rows) == [
        "",
        "",
        f"quality: url_or_outlet must not be null ({NOT_NULL})",
        "quality: title must not be blank (expect_column_values_to_match_regex)",
        f"quality: title must not be null ({NOT_NULL})",
        f"quality: published_at must not be after fetched_at + 10 min ({PAIR})",
        "",
    ]


def test_every_dataset_accepts_its_good_row(gate):
    for dataset in SCHEMAS:
        outcome = gate.check(dataset, silver_rows(dataset, {}), batch_id=0, run_id="t")
        assert (outcome.valid.num_rows, outcome.rejected.num_rows) == (1, 0), dataset
        assert all(r.success for r in outcome.results), dataset


def test_rows_may_be_chunked_arrow(gate):
    rows = pa.concat_tables([silver_rows("prices", {}), silver_rows("prices", {"high": 1.0})])
    outcome = gate.check("prices", rows, batch_id=0, run_id="t")
    assert (outcome.valid.num_rows, outcome.rejected.num_rows) == (1, 1)
