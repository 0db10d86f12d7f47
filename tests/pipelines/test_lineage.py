"""Lineage on both serving stores, over the session's streamed lake (simulated bronze -> silver ->
gold by the real streaming path, :mod:`tests.fixtures.pipeline`): a served daily close followed
back to the exact bronze lines and payload elements of its 24 hourly bars, read here from the
bronze objects themselves; an hourly close to the same element; a quarantined record with its
reason; the questions that cannot be asked."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from pipelines.contracts.lineage import ALL_DAYS
from pipelines.core.errors import NotFoundError
from pipelines.core.settings import Settings
from pipelines.lineage import Lineage, LineageQuery, LineageQueryError, layers_of, trace
from pipelines.lineage.layers import Layers
from pipelines.reference import load_assets
from pipelines.serving.load import load_gold
from pipelines.serving.store import ServingStore
from tests.fixtures.lake import lake_of
from tests.fixtures.pipeline import END

#: A whole day of the simulation: every asset has its 24 hourly bars (bar to fault aside).
DAY = dt.datetime.combine(END - dt.timedelta(days=3), dt.time(), dt.UTC)


@pytest.fixture(scope="module")
def layers(streamed: Settings, module_store: ServingStore) -> Layers:
    """The streamed lake loaded into each store (as of the day after the simulation, so no
    hourly bar has passed intraday retention)."""
    module_store.migrate()
    module_store.upsert_assets(load_assets())
    lake, paths = lake_of(streamed)
    load_gold(module_store, lake, paths, dt.datetime.combine(END, dt.time(), dt.UTC))
    return layers_of(streamed, module_store)


def _bronze_line(streamed: Settings, key: str, line: int) -> dict[str, Any]:
    """The envelope on ``line`` (1-based) of the bronze object ``key``, read from the file."""
    text = (Path(streamed.lake.root) / key).read_text().splitlines()[line - 1]
    envelope: dict[str, Any] = json.loads(text)
    return envelope


def _trace(layers: Layers, asset: str, ts: dt.datetime, measure: str, res: str | None) -> Lineage:
    return trace(layers, LineageQuery(asset, ts, measure, res))


def test_a_served_daily_close_goes_back_to_the_bronze_lines_of_its_24_hourly_bars(
    layers: Layers, streamed: Settings
) -> None:
    answer = _trace(layers, "btc", DAY, "close", "1d")
    assert answer.served is not None and answer.gold is not None
    assert answer.value == answer.served["close"] == answer.gold["close"]
    assert answer.gold["source_bars"] == 24 and len(answer.silver) == 24
    assert answer.checks == dict.fromkeys(
        ("source_bars", "open", "high", "low", "close", "volume"), True
    )
    assert answer.run is not None and answer.run.run_id and answer.run.days == ALL_DAYS
    hours = [DAY + dt.timedelta(hours=h) for h in range(24)]
    assert [record.row["ts"] for record in answer.silver] == hours
    elements = set()
    for record, hour in zip(answer.silver, hours, strict=True):
        ref = record.bronze
        assert ref.line is not None and ref.element is not None
        envelope = _bronze_line(streamed, ref.object_key, ref.line)
        # the line is the envelope silver recorded, and the element is the hour's bar in it
        assert envelope["ingest_id"] == record.row["ingest_id"] == ref.ingest_id
        assert ref.object_key == record.row["bronze_file"]
        index = int(ref.element.removeprefix("payload[").removesuffix("]"))
        item = envelope["payload"][index]
        assert item == ref.item
        assert item["time_period_start"].startswith(hour.strftime("%Y-%m-%dT%H:%M:%S"))
        assert float(item["price_close"]) == record.row["close"]  # some sources send text
        elements.add((ref.object_key, ref.line, index))
    assert len(elements) == 24
    # the served close is the close of the last hourly bar, as the source sent it
    assert float(answer.silver[-1].bronze.item["price_close"]) == answer.served["close"]
    lines = {(e.object_key, e.line) for e in answer.envelopes}
    assert lines == {(key, line) for key, line, _ in elements}
    for fetched in answer.envelopes:
        assert fetched.envelope == _bronze_line(streamed, fetched.object_key, fetched.line)

    # the served hourly close of the last hour is that same bronze element, alone
    hourly = _trace(layers, "btc", hours[-1], "close", "1h")
    assert hourly.served is not None and hourly.value == answer.value
    assert [r.bronze for r in hourly.silver] == [answer.silver[-1].bronze]
    assert hourly.gold is not None and hourly.gold["source_bars"] == 1


def test_an_onchain_metric_goes_back_to_the_records_gold_combined(layers: Layers) -> None:
    answer = _trace(layers, "ousg", DAY + dt.timedelta(hours=5), "nav_usd", None)
    assert answer.query.ts == DAY  # a daily measure is asked by its day
    assert answer.served is not None and answer.gold is not None
    assert answer.value == answer.served["nav_usd"] == answer.gold["nav_usd"]
    assert answer.run is not None and answer.run.table == "gold/onchain_daily"
    # the record gold kept (the latest fetch) comes first, with its bronze line
    assert answer.silver and answer.silver[0].row["nav_usd"] == answer.value
    ref = answer.silver[0].bronze
    assert ref.line is not None and ref.ingest_id == answer.silver[0].row["ingest_id"]
    assert {e.envelope["ingest_id"] for e in answer.envelopes} >= {ref.ingest_id}


def _quarantined_bar(streamed: Settings) -> dict[str, Any]:
    """A prices record the quality gate refused (its raw is the silver record as parsed)."""
    rows = DeltaTable(f"{streamed.lake.root}/silver/quarantine").to_pyarrow_table().to_pylist()
    for row in rows:
        raw = json.loads(row["raw"])
        if row["dataset"] == "prices" and isinstance(raw, dict) and raw.get("resolution") == "1h":
            return row
    raise AssertionError("the 1% fault rate should have quarantined a price bar")


def test_a_quarantined_record_is_looked_up_by_asset_and_time_with_its_reason(
    layers: Layers, streamed: Settings
) -> None:
    row = _quarantined_bar(streamed)
    raw = json.loads(row["raw"])
    ts = dt.datetime.fromisoformat(raw["ts"])
    answer = _trace(layers, raw["asset_id"], ts, "close", "1h")
    assert answer.served is None and answer.gold is None and answer.silver == []
    assert [q.row["record_id"] for q in answer.quarantine] == [row["record_id"]]
    found = answer.quarantine[0]
    assert found.row["reason"] == row["reason"] and found.row["reason"].startswith("quality: ")
    assert found.bronze.line is not None and found.bronze.item is not None
    envelope = _bronze_line(streamed, found.bronze.object_key, found.bronze.line)
    assert envelope["ingest_id"] == row["ingest_id"]
    assert answer.notes == ["not served: the records about this time were quarantined"]


def test_questions_that_cannot_be_asked_are_refused_naming_the_field(layers: Layers) -> None:
    refused = [
        (("btc", DAY, "closing", "1d"), "measure"),
        (("btc", DAY, "close", "1w"), "resolution"),
        (("btc", DAY, "close", "../../etc"), "resolution"),
    ]
    assert _trace(layers, "btc", DAY, "open", None).query.resolution == "1d"  # the default
    for args, field in refused:
        with pytest.raises(LineageQueryError) as error:
            _trace(layers, *args)
        assert error.value.field == field
    for args in (
        ("nope", DAY, "close", "1d"),  # unknown asset
        ("../bronze", DAY, "close", "1d"),
        ("btc", DAY + dt.timedelta(minutes=7), "close", "1d"),  # no bar starts then
        ("btc", dt.datetime(1999, 1, 1, tzinfo=dt.UTC), "close", "1d"),
    ):
        with pytest.raises(NotFoundError):
            _trace(layers, *args)
