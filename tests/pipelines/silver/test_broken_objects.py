"""One bad bronze object must not block a dataset: judged per object, quarantined whole and
listed, set aside and replayed exactly once; a systematic failure still stops the job -- real
Spark, real Delta tables, the real gate."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines import steps
from pipelines.core.errors import DataQualityError
from pipelines.core.settings import Settings
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
)

pytestmark = pytest.mark.usefixtures("spark")
FETCHED = DAY0 + dt.timedelta(days=1)


def silver_rows(settings: Settings) -> int:
    uri = LakePaths(settings.lake).silver("prices")
    lake = DeltaLake(settings.lake, settings.spark)
    return lake.count_rows(uri) if lake.exists(uri) else 0


def quarantine(settings: Settings) -> pa.Table:
    return DeltaLake(settings.lake, settings.spark).to_arrow(LakePaths(settings.lake).quarantine)


def listed(settings: Settings) -> dict[str, str]:
    return steps.quarantined_objects(Lakehouse.from_settings(settings)).statuses("prices")


def land_truncated(settings: Settings, symbol: str = "PAXG", name: str = "part-cut.jsonl") -> str:
    """A bronze object holding one envelope line cut in the middle (a partial upload)."""
    line = price_envelope(symbol, hourly_bars(DAY0, 50.0, hours=5), FETCHED).to_json_line()
    return land_lines(Path(settings.lake.root), [line[: len(line) // 2]], name=name)


def restore(settings: Settings, key: str, symbol: str = "PAXG") -> None:
    """The operator puts the object's complete content back (re-delivered from the source)."""
    line = price_envelope(symbol, hourly_bars(DAY0, 50.0, hours=5), FETCHED).to_json_line()
    (Path(settings.lake.root) / key).write_text(line + "\n")


def land_clean(settings: Settings, symbol: str, hours: int = 4) -> None:
    land(
        Path(settings.lake.root), [price_envelope(symbol, hourly_bars(DAY0, 10.0, hours), FETCHED)]
    )


def test_a_truncated_object_alone_is_quarantined_whole_and_clean_data_after_it_lands(
    make_settings: MakeSettings,
) -> None:
    """The issue's case: the truncated object arrives alone (a batch of its own, 100 %
    refused), clean objects after it. They land; the object is quarantined whole and listed;
    reruns change nothing."""
    settings = make_settings(silver_max_files_per_trigger=1)
    bad = land_truncated(settings)

    first = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert list(first.quarantined_objects) == [bad]
    assert "malformed JSON line (1)" in first.quarantined_objects[bad]
    assert listed(settings) == {bad: "quarantined"}
    land_clean(settings, "BTC")
    land_clean(settings, "ETH")

    second = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert (second.batches, second.inserted) == (2, 8)
    assert silver_rows(settings) == 8
    refused = quarantine(settings).to_pylist()
    assert [(r["bronze_file"], r["reason"]) for r in refused] == [(bad, "malformed JSON line")]
    object_row = (
        steps.quarantined_objects(Lakehouse.from_settings(settings)).rows("prices").to_pylist()[0]
    )
    assert (object_row["records_in"], object_row["refused"]) == (1, 1)
    assert "above RWA_QUALITY_MAX_FAILURE_SHARE (5.0%)" in object_row["reason"]
    check = reconcile(*lake_of(settings), "prices")
    assert check.ok, check.describe()
    assert check.totals["quarantined"] == 1 and check.objects == {"quarantined": 1}
    assert "bronze objects quarantined whole: 1 quarantined" in check.describe()

    rerun = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert rerun.batches == 0
    assert silver_rows(settings) == 8 and quarantine(settings).num_rows == 1
    assert listed(settings) == {bad: "quarantined"}


def test_an_object_the_gate_stops_on_is_set_aside_then_replayed_exactly_once(
    make_settings: MakeSettings,
) -> None:
    """With no broken object allowed to wait, the truncated object stops its batch (clean data
    of the batch waits too); set aside, the rerun lets the clean data through; once the object
    is whole again, the replay lands its bars exactly once, however often it is run."""
    settings = make_settings(quality_max_broken_objects=0)
    bad = land_truncated(settings)
    land_clean(settings, "BTC")

    with pytest.raises(DataQualityError) as failure:
        steps.run_silver(Lakehouse.from_settings(settings), "prices")

    message = str(failure.value)
    assert "above RWA_QUALITY_MAX_BROKEN_OBJECTS (0)" in message and bad in message
    assert silver_rows(settings) == 0
    assert listed(settings) == {bad: "quarantined"}

    assert (
        steps.set_aside_object(Lakehouse.from_settings(settings), bad, "partial upload")
        == "set_aside"
    )
    assert (
        steps.set_aside_object(Lakehouse.from_settings(settings), bad, "partial upload")
        == "set_aside"
    )  # idempotent
    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert report.batch_ids == [0] and report.inserted == 4
    assert "set aside by an operator" in report.quarantined_objects[bad]
    with pytest.raises(DataQualityError, match="still broken"):
        steps.replay_object(Lakehouse.from_settings(settings), bad)
    assert silver_rows(settings) == 4 and listed(settings) == {bad: "set_aside"}

    restore(settings, bad)
    replayed = steps.replay_object(Lakehouse.from_settings(settings), bad)

    assert replayed.silver is not None and replayed.silver.inserted == 5
    assert silver_rows(settings) == 9
    assert listed(settings) == {bad: "replayed"}
    again = steps.replay_object(Lakehouse.from_settings(settings), bad)
    assert again.silver is None and again.status_before == "replayed"
    assert steps.run_silver(Lakehouse.from_settings(settings), "prices").batches == 0
    assert silver_rows(settings) == 9
    check = reconcile(*lake_of(settings), "prices")
    assert check.ok, check.describe()
    assert check.replayed_records == 5 and check.objects == {"replayed": 1}
    keys = DeltaLake(settings.lake, settings.spark).to_arrow(
        LakePaths(settings.lake).silver("prices")
    )
    assert keys.select(["asset_id", "ts"]).group_by(["asset_id", "ts"]).aggregate([]).num_rows == 9


def test_a_half_refused_object_replays_under_a_raised_threshold(
    make_settings: MakeSettings,
) -> None:
    """An object over the threshold on its own is quarantined whole (its valid bars too, so the
    object stays one unit); replayed once an operator accepts more refusals, its valid bars
    land and the bad ones stay in quarantine."""
    settings = make_settings()  # at most 5 % refused per object
    bars = hourly_bars(DAY0, 100.0, hours=4)
    for bar in bars[:2]:
        bar["price_open"] = "n/a"
    [bad] = land(Path(settings.lake.root), [price_envelope("BTC", bars, FETCHED)])
    land_clean(settings, "ETH")

    report = steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert (report.inserted, report.quarantined) == (4, 4)
    assert "2 of 4 records refused (50.0%)" in report.quarantined_objects[bad]
    reasons = sorted(str(reason) for reason in quarantine(settings)["reason"].to_pylist())
    assert (
        reasons[:2]
        == [
            "bronze object quarantined whole: 2 of 4 records refused (50.0%), "
            "above RWA_QUALITY_MAX_FAILURE_SHARE (5.0%); top reasons: field "
            "'price_open' is not a number (2)"
        ]
        * 2
    )
    assert reasons[2:] == ["field 'price_open' is not a number"] * 2

    replayed = steps.replay_object(
        Lakehouse.from_settings(settings.updated(quality_max_failure_share=0.6)), bad
    )

    assert replayed.silver is not None
    assert (replayed.silver.inserted, replayed.silver.quarantined) == (2, 2)
    assert silver_rows(settings) == 6
    assert quarantine(settings).num_rows == 4  # the bad bars' rows are the same rows again
    assert reconcile(*lake_of(settings), "prices").ok


def test_most_objects_broken_at_once_still_fails_loudly(make_settings: MakeSettings) -> None:
    """A parser regression seen in one batch: most objects broken fails the batch, merges
    nothing, and lists the objects for the operator."""
    settings = make_settings()
    broken = []
    for symbol in ("BTC", "ETH", "PAXG"):
        bars = hourly_bars(DAY0, 10.0, hours=3)
        for bar in bars:
            bar["price_close"] = {"value": bar["price_close"]}  # a changed shape
        broken += land(Path(settings.lake.root), [price_envelope(symbol, bars, FETCHED)])
    land_clean(settings, "OUSG")

    with pytest.raises(DataQualityError) as failure:
        steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert "3 of the batch's 4 bronze objects are broken" in str(failure.value)
    assert silver_rows(settings) == 0
    assert listed(settings) == dict.fromkeys(broken, "quarantined")
    with pytest.raises(DataQualityError):  # a rerun fails the same way
        steps.run_silver(Lakehouse.from_settings(settings), "prices")


def test_broken_objects_one_batch_at_a_time_stop_once_too_many_wait(
    make_settings: MakeSettings,
) -> None:
    """The same failure seen one object per batch: the first broken object waits in
    quarantine, the next one past RWA_QUALITY_MAX_BROKEN_OBJECTS stops the job."""
    settings = make_settings(silver_max_files_per_trigger=1, quality_max_broken_objects=1)
    first = land_truncated(settings, name="part-a.jsonl")
    steps.run_silver(Lakehouse.from_settings(settings), "prices")
    second = land_truncated(settings, symbol="ETH", name="part-b.jsonl")

    with pytest.raises(DataQualityError, match=r"2 broken bronze objects are waiting"):
        steps.run_silver(Lakehouse.from_settings(settings), "prices")

    assert listed(settings) == {first: "quarantined", second: "quarantined"}
    steps.set_aside_object(Lakehouse.from_settings(settings), first, "")
    assert list(
        steps.run_silver(Lakehouse.from_settings(settings), "prices").quarantined_objects
    ) == [second]
