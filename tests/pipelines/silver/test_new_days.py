"""Silver days that hold no row yet are appended (one commit for every such window of a batch),
days that hold rows are MERGEd; counts, replays and crashes as with MERGEs only. On both
engines, real Delta tables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lake.delta import APPENDED_ROWS, DeltaLake
from pipelines.lake.paths import LakePaths
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import reconcile
from tests.fixtures.lake import MakeSettings, lake_of
from tests.pipelines.silver.bronze_factory import (
    DAY0,
    daily_envelopes,
    hourly_bars,
    land,
    price_envelope,
)
from tests.pipelines.silver.children import run_silver_child

pytestmark = pytest.mark.usefixtures("spark")

#: A window per day: each day of a batch is a window of its own.
ONE_DAY_WINDOWS = {"delta_partitions_per_write": 1}


def _commits_since(settings: Settings, version: int) -> list[dict[str, Any]]:
    """The silver/prices commits after ``version``, oldest first."""
    table = DeltaLake(settings.lake).table(LakePaths(settings.lake).silver("prices"))
    return sorted(
        (c for c in table.history() if int(c["version"]) > version), key=lambda c: c["version"]
    )


def _version(settings: Settings) -> int:
    return int(DeltaLake(settings.lake).table(LakePaths(settings.lake).silver("prices")).version())


def _closes(settings: Settings) -> dict[tuple[str, str], float]:
    rows = DeltaLake(settings.lake).to_arrow(LakePaths(settings.lake).silver("prices")).to_pylist()
    return {(row["asset_id"], row["ts"].isoformat()): row["close"] for row in rows}


def test_new_days_are_appended_in_one_commit_and_days_with_rows_merged(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings(**ONE_DAY_WINDOWS)
    root = Path(settings.lake.root)
    land(root, daily_envelopes({"BTC": 100.0}, days=4))

    first = steps.run_silver_prices(Lakehouse.from_settings(settings))

    assert (first.inserted, first.updated) == (96, 0)
    (append,) = [c for c in _commits_since(settings, -1) if c["operation"] != "CREATE TABLE"]
    assert append["operation"] == "WRITE"
    appended = json.loads(append[APPENDED_ROWS])
    assert sorted(appended.values()) == [24, 24, 24, 24]  # four windows, one commit
    assert all("@" in app_id for app_id in appended)

    # Days 2-3 again (a newer fetch) and two new days 4-5.
    before = _version(settings)
    later = DAY0 + dt.timedelta(days=10)
    land(
        root,
        [
            price_envelope("BTC", hourly_bars(DAY0 + dt.timedelta(days=d), 500.0), later)
            for d in range(2, 6)
        ],
    )
    second = steps.run_silver_prices(Lakehouse.from_settings(settings))

    assert (second.inserted, second.updated, second.duplicates_removed) == (48, 48, 48)
    commits = _commits_since(settings, before)
    assert sorted(c["operation"] for c in commits) == ["MERGE", "MERGE", "WRITE"]
    (append,) = [c for c in commits if c["operation"] == "WRITE"]
    assert sorted(json.loads(append[APPENDED_ROWS]).values()) == [24, 24]
    closes = _closes(settings)
    assert len(closes) == 6 * 24
    assert closes[("btc", (DAY0 + dt.timedelta(days=2)).isoformat())] == 501.0
    assert closes[("btc", (DAY0 + dt.timedelta(days=5)).isoformat())] == 501.0
    assert closes[("btc", (DAY0 + dt.timedelta(days=1)).isoformat())] == 102.0
    assert reconcile(*lake_of(settings), "prices").ok


CRASHING_LEDGER = """
import os
from pipelines import steps
from pipelines.core.settings import Settings
from pipelines.lakehouse import Lakehouse
from pipelines.silver.reconciliation import Ledger

def crash(*args, **kwargs):
    os._exit(3)  # after the batch's silver commit, before its ledger row

Ledger.record = crash
steps.run_silver(Lakehouse.from_settings(Settings()), "prices")
"""


def test_a_crash_between_the_append_and_the_ledger_is_recovered_from_the_delta_log(
    make_settings: MakeSettings, tmp_path: Path
) -> None:
    """The replay of a batch whose days were appended: its windows' transactions are in the
    append commit, so nothing is written again, and each window's count comes from the
    commit's metadata; silver, quarantine and ledger end as an uninterrupted run leaves them."""
    bronze = daily_envelopes({"BTC": 100.0, "ETH": 10.0}, days=3)
    bad = hourly_bars(DAY0, 1.0, hours=2)
    bad[0]["price_close"] = "n/a"
    bronze.append(price_envelope("BTC", bad, DAY0 + dt.timedelta(days=5)))
    options = ONE_DAY_WINDOWS | {"quality_max_failure_share": 1.0}

    reference = make_settings(**options)
    land(Path(reference.lake.root), bronze)
    uninterrupted = steps.run_silver_prices(Lakehouse.from_settings(reference))

    crashed = make_settings(
        lake_root=str(tmp_path / "crashed"), state_dir=tmp_path / "crashed-state", **options
    )
    land(Path(crashed.lake.root), bronze)
    done = run_silver_child(crashed, CRASHING_LEDGER)
    assert done.returncode == 3, done.stderr[-2000:]
    committed = _version(crashed)

    recovered = steps.run_silver_prices(Lakehouse.from_settings(crashed))

    assert _version(crashed) == committed  # the replay wrote nothing to silver
    assert (
        (recovered.inserted, recovered.updated, recovered.quarantined)
        == (
            uninterrupted.inserted,
            uninterrupted.updated,
            uninterrupted.quarantined,
        )
        == (72 + 72, 0, 1)
    )
    assert _closes(crashed) == _closes(reference)
    assert reconcile(*lake_of(crashed), "prices").ok
