"""Silver prices on real Spark + real Delta tables: validation, quarantine, dedup, exactly-once."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from pipelines import steps
from pipelines.contracts.envelope import RawEnvelope
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import reconcile
from tests.fixtures.lake import MakeSettings, lake_of
from tests.pipelines.silver.bronze_factory import (
    DAY0,
    daily_envelopes,
    hourly_bars,
    land,
    land_lines,
    price_envelope,
)
from tests.pipelines.silver.children import run_silver_child

pytestmark = pytest.mark.usefixtures("spark")


def silver_table(settings: Settings) -> pa.Table:
    table = DeltaLake(settings.lake, settings.spark).to_arrow(
        LakePaths(settings.lake).silver("prices")
    )
    return table.sort_by([("asset_id", "ascending"), ("ts", "ascending")])


def quarantine_reasons(settings: Settings, dataset: str = "prices") -> dict[str, int]:
    rows = (
        DeltaLake(settings.lake, settings.spark)
        .to_arrow(LakePaths(settings.lake).quarantine)
        .to_pylist()
    )
    rows = [row for row in rows if row["dataset"] == dataset]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["reason"]] = counts.get(row["reason"], 0) + 1
    return counts


def test_valid_bars_are_typed_and_keyed(make_settings: MakeSettings) -> None:
    settings = make_settings()
    land(Path(settings.lake.root), daily_envelopes({"BTC": 100.0, "ETH": 10.0}, days=2))

    report = steps.run_silver_prices(Lakehouse.from_settings(settings))

    table = silver_table(settings)
    assert report.inserted == table.num_rows == 2 * 2 * 24
    assert report.quarantined == 0
    first = table.slice(0, 1).to_pylist()[0]
    assert first["asset_id"] == "btc" and first["resolution"] == "1h"
    assert first["ts"] == DAY0 and first["date"] == DAY0.date()
    assert (first["open"], first["high"], first["low"], first["close"]) == (100, 102, 99, 101)
    assert first["bronze_file"].startswith("bronze/source=simulated/dataset=prices/date=")
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")


def test_bad_records_go_to_quarantine_with_their_reason(make_settings: MakeSettings) -> None:
    settings = make_settings(quality_max_failure_share=1.0)
    root = Path(settings.lake.root)
    bars = hourly_bars(DAY0, 100.0, hours=10)
    bars[1]["price_close"] = "101.5"  # numeric string: real APIs do this; accepted
    bars[1]["price_high"] = "103"
    bars[2]["time_period_start"] = None
    bars[3]["price_close"] = 0
    bars[4]["price_high"], bars[4]["price_low"] = 90.0, 95.0
    bars[5]["price_open"] = "n/a"
    bars[6]["volume_traded"] = -1
    bars[7]["time_period_start"] = "yesterday"
    bars[8]["price_open"] = {"value": 100.0}  # a field whose type changed
    bars[9]["extra_field"] = "ignored"  # an additive field: accepted
    fetched = DAY0 + dt.timedelta(days=1)
    land(
        root,
        [
            price_envelope("BTC", bars, fetched),
            price_envelope("NOPE", hourly_bars(DAY0, 5.0, hours=2), fetched),
            price_envelope("ETH", hourly_bars(DAY0, 5.0, hours=2), fetched, period_id="7SEC"),
        ],
    )
    good_envelope = json.loads(price_envelope("ETH", [], fetched).to_json_line())
    land_lines(
        root,
        [
            '{"source": "simulated", "dataset": "prices", "payload": [',  # truncated line
            json.dumps({k: v for k, v in good_envelope.items() if k != "ingest_id"}),
            json.dumps(good_envelope | {"payload": {"error": "rate limited"}}),
            json.dumps(good_envelope | {"schema_version": 99}),
            json.dumps(good_envelope | {"source": "coingecko"}),
            # Spark parses it, Python could not load it back: refused, not kept.
            json.dumps(good_envelope | {"fetched_at": "+12345-06-01T00:00:00Z"}),
        ],
    )

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    reasons = quarantine_reasons(settings)
    structural = {r: n for r, n in reasons.items() if not r.startswith("quality:")}
    assert structural == {
        "field 'time_period_start' is missing": 1,
        "field 'time_period_start' is not a timestamp": 1,
        "field 'price_open' is not a number": 2,
        "unknown symbol_id": 2,
        "unsupported period_id": 2,
        "malformed JSON line": 1,
        "envelope field 'ingest_id' is missing": 1,
        "payload does not fit the CoinAPI OHLCV array shape": 1,
        "unsupported envelope schema_version '99' (silver reads major version 1)": 1,
        "envelope field 'source' does not match its bronze source= folder": 1,
        "envelope field 'fetched_at' is not a timestamp": 1,
    }
    # business rules are the quality gate's: its reasons name the failed expectations
    quality = sorted(r for r in reasons if r.startswith("quality:"))
    assert len(quality) == 3
    for rule in ("close must be > 0", "high must be >= low", "volume must be >= 0"):
        assert sum(rule in reason for reason in quality) == 1, (rule, quality)
    table = silver_table(settings)
    assert table.column("ts").to_pylist() == [DAY0 + dt.timedelta(hours=h) for h in (0, 1, 9)]
    assert table.column("close").to_pylist()[1] == 101.5
    assert report.bronze_lines == 3 + 6
    assert report.records_in == 10 + 2 + 2 + 6  # bars, and the refused lines
    assert (report.quarantined, report.inserted) == (17, 3)
    assert reconcile(*lake_of(settings), "prices").ok
    # every quarantined record points back at the bronze object it came from
    rows = (
        DeltaLake(settings.lake, settings.spark)
        .to_arrow(LakePaths(settings.lake).quarantine)
        .to_pylist()
    )
    assert all(row["bronze_file"].startswith("bronze/") and row["raw"] for row in rows)


def test_latest_fetch_wins_whatever_the_arrival_order(make_settings: MakeSettings) -> None:
    settings = make_settings(silver_max_files_per_trigger=1)
    root = Path(settings.lake.root)
    early, late = DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=2)
    revised = hourly_bars(DAY0, 200.0, hours=3)
    # The revision lands first, the stale fetch after it (in a later micro-batch).
    land(root, [price_envelope("BTC", revised, late)])
    steps.run_silver_prices(Lakehouse.from_settings(settings))
    land(root, [price_envelope("BTC", hourly_bars(DAY0, 100.0, hours=3), early)])
    report = steps.run_silver_prices(Lakehouse.from_settings(settings))

    assert report.updated == 0
    assert silver_table(settings).column("open").to_pylist() == [200.0, 201.0, 202.0]


def test_duplicates_within_a_batch_collapse(make_settings: MakeSettings) -> None:
    settings = make_settings()
    bars = hourly_bars(DAY0, 100.0, hours=4)
    fetched = DAY0 + dt.timedelta(days=1)
    land(
        Path(settings.lake.root),
        [
            price_envelope("BTC", bars, fetched),
            price_envelope("BTC", bars, fetched + dt.timedelta(minutes=1)),
        ],
    )
    report = steps.run_silver_prices(Lakehouse.from_settings(settings))
    assert (report.records_in, report.duplicates_removed, report.inserted) == (8, 4, 4)
    assert silver_table(settings).num_rows == 4


CRASHING_RUN = """
import os, sys
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lakehouse import Lakehouse

def crash(batch_id: int) -> None:
    if batch_id == int(sys.argv[1]):
        os._exit(3)  # after the Delta commits, before the checkpoint's commit

steps.run_silver(Lakehouse.from_settings(Settings()), "prices", after_batch=crash)
"""


def run_crashing(settings: Settings, crash_at_batch: int) -> int:
    return run_silver_child(settings, CRASHING_RUN, str(crash_at_batch)).returncode


def test_crash_after_commit_and_reruns_leave_silver_identical(
    make_settings: MakeSettings, tmp_path: Path, spark: SparkSession
) -> None:
    bronze = daily_envelopes({"BTC": 100.0, "ETH": 10.0, "PAXG": 2000.0}, days=4)
    bad = hourly_bars(DAY0, 1.0, hours=2)
    bad[0]["price_close"] = "n/a"  # also exercise the quarantine commit under replay
    bronze.append(price_envelope("BTC", bad, DAY0 + dt.timedelta(days=9)))

    reference = make_settings(silver_max_files_per_trigger=1, quality_max_failure_share=1.0)
    land(Path(reference.lake.root), bronze)
    uninterrupted = steps.run_silver_prices(Lakehouse.from_settings(reference))
    assert uninterrupted.batches == 5  # one bronze object per fetch date

    crashed = make_settings(
        lake_root=str(tmp_path / "crashed"),
        state_dir=tmp_path / "crashed-state",
        silver_max_files_per_trigger=1,
        quality_max_failure_share=1.0,
    )
    land(Path(crashed.lake.root), bronze)
    assert run_crashing(crashed, crash_at_batch=2) == 3
    silver_uri = LakePaths(crashed.lake).silver("prices")
    stream_id = (LakePaths(crashed.lake).checkpoint("silver_prices") / "rwa-stream-id").read_text()
    assert (
        DeltaLake(crashed.lake, crashed.spark).committed_txn_version(
            silver_uri, f"silver.prices.{stream_id}"
        )
        == 2
    )

    recovered = steps.run_silver_prices(Lakehouse.from_settings(crashed))
    assert recovered.batch_ids[0] == 2 and recovered.replayed_batches == 1
    assert silver_table(crashed).equals(silver_table(reference))
    assert quarantine_reasons(crashed) == quarantine_reasons(reference)
    assert quarantine_reasons(crashed) == {"field 'price_close' is not a number": 1}
    assert reconcile(*lake_of(crashed), "prices").ok and reconcile(*lake_of(reference), "prices").ok

    version_before = DeltaLake(crashed.lake, crashed.spark).table(silver_uri).version()
    rerun = steps.run_silver_prices(Lakehouse.from_settings(crashed))
    assert rerun.batches == 0
    assert DeltaLake(crashed.lake, crashed.spark).table(silver_uri).version() == version_before
    assert silver_table(crashed).equals(silver_table(reference))


CRASHING_WINDOWS = """
import os, sys
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lake.delta import DeltaLake
from pipelines.lakehouse import Lakehouse

merge, merged = DeltaLake.merge, []

def crashing(self, source, uri, /, **options):
    outcome = merge(self, source, uri, **options)
    if uri.endswith("prices"):
        merged.append(uri)
        if len(merged) == int(sys.argv[1]):
            os._exit(3)  # after this window's commit, before the batch's next window
    return outcome

DeltaLake.merge = crashing
steps.run_silver(Lakehouse.from_settings(Settings()), "prices")
"""


def _seed_each_day(days: int) -> list[RawEnvelope]:
    """One PAXG bar on each of ``days`` days from DAY0: once they are in silver, each of those
    days holds a row, so a later batch's windows of those days are MERGEd, not appended."""
    fetched = DAY0 + dt.timedelta(days=days, minutes=1)
    return [
        price_envelope("PAXG", hourly_bars(DAY0 + dt.timedelta(days=d), 2000.0, 1), fetched)
        for d in range(days)
    ]


def test_a_crash_between_the_windows_of_a_batch_loses_and_repeats_nothing(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    """One batch of four days MERGEd a day at a time (``RWA_DELTA_PARTITIONS_PER_WRITE=1``; each
    day already holds a row, so no window is appended): after a crash between its second and
    third window, the rerun merges the last two only and the table, the quarantine and the
    ledger end as an uninterrupted run leaves them."""
    bronze = daily_envelopes({"BTC": 100.0, "ETH": 10.0}, days=4)
    bad = hourly_bars(DAY0 + dt.timedelta(days=1), 1.0, hours=2)
    bad[0]["price_close"] = "n/a"
    bronze.append(price_envelope("BTC", bad, DAY0 + dt.timedelta(days=3)))
    options = {"delta_partitions_per_write": 1, "quality_max_failure_share": 1.0}

    reference = make_settings(**options)
    land(Path(reference.lake.root), _seed_each_day(4))
    steps.run_silver_prices(Lakehouse.from_settings(reference))
    silver_uri = LakePaths(reference.lake).silver("prices")
    seeded = DeltaLake(reference.lake).table(silver_uri).version()
    land(Path(reference.lake.root), bronze)
    uninterrupted = steps.run_silver_prices(Lakehouse.from_settings(reference))
    assert uninterrupted.batches == 1
    # One MERGE commit per day of the batch.
    windows = DeltaLake(reference.lake).table(silver_uri).history(4)
    assert [c["version"] for c in windows] == [seeded + n for n in (4, 3, 2, 1)]
    assert {c["operation"] for c in windows} == {"MERGE"}

    crashed = make_settings(
        lake_root=str(tmp_path / "crashed"), state_dir=tmp_path / "crashed-state", **options
    )
    land(Path(crashed.lake.root), _seed_each_day(4))
    steps.run_silver_prices(Lakehouse.from_settings(crashed))
    land(Path(crashed.lake.root), bronze)
    done = run_silver_child(crashed, CRASHING_WINDOWS, "2")
    assert done.returncode == 3, done.stderr[-2000:]
    half = silver_table(crashed)
    assert 4 < half.num_rows < silver_table(reference).num_rows

    recovered = steps.run_silver_prices(Lakehouse.from_settings(crashed))
    assert recovered.batch_ids == [1] and recovered.replayed_batches == 0
    assert silver_table(crashed).equals(silver_table(reference))
    assert quarantine_reasons(crashed) == quarantine_reasons(reference)
    assert (recovered.inserted, recovered.updated, recovered.quarantined) == (
        uninterrupted.inserted,
        uninterrupted.updated,
        uninterrupted.quarantined,
    )
    assert reconcile(*lake_of(crashed), "prices").ok


def test_reprocessing_from_scratch_is_idempotent(make_settings: MakeSettings) -> None:
    """A lost checkpoint replays all of bronze: the MERGE must not change a single row."""
    settings = make_settings()
    land(Path(settings.lake.root), daily_envelopes({"BTC": 100.0}, days=2))
    steps.run_silver_prices(Lakehouse.from_settings(settings))
    before = silver_table(settings)
    shutil.rmtree(LakePaths(settings.lake).checkpoint("silver_prices"))
    report = steps.run_silver_prices(Lakehouse.from_settings(settings))
    # A fresh stream re-reads all of bronze: every record matches its stored row.
    assert (report.inserted, report.updated) == (0, 0)
    assert report.duplicates_removed == report.records_in == 48
    assert silver_table(settings).equals(before)
    assert reconcile(*lake_of(settings), "prices").ok
