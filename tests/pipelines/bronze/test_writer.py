from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from pipelines.bronze.writer import BronzeWriter, bronze_inventory
from pipelines.contracts.envelope import RawEnvelope
from pipelines.lake.objects import LocalObjectStore


def envelope(n: int, day: int = 1, source: str = "simulated") -> RawEnvelope:
    return RawEnvelope.wrap(
        source=source,
        dataset="prices",
        endpoint="/v1/ohlcv/{symbol_id}/history",
        params={"symbol_id": f"SIM_SPOT_A{n}_USD", "period_id": "1HRS"},
        fetched_at=dt.datetime(2026, 3, day, 0, 5, tzinfo=dt.UTC),
        payload=[{"n": n}],
    )


def test_layout_is_source_dataset_date(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    report = BronzeWriter(store).land([envelope(1, day=1), envelope(2, day=2, source="other")])
    prefixes = sorted(key.rsplit("/", 1)[0] for key in report.keys)
    assert prefixes == [
        "bronze/source=other/dataset=prices/date=2026-03-02",
        "bronze/source=simulated/dataset=prices/date=2026-03-01",
    ]
    line = json.loads(store.get(report.keys[0]).decode().splitlines()[0])
    assert set(line) == {
        "source",
        "dataset",
        "endpoint",
        "params",
        "fetched_at",
        "ingest_id",
        "schema_version",
        "payload",
    }


def test_relanding_the_same_input_writes_nothing(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    writer = BronzeWriter(store, max_records_per_object=3)
    batch = [envelope(n) for n in range(10)]
    first = writer.land(batch)
    again = writer.land(list(reversed(batch)))  # order does not matter either
    assert (first.records, first.objects_written) == (10, 4)
    assert (again.records, again.objects_written, again.objects_present) == (0, 0, 4)
    assert bronze_inventory(store) == {"prices": (4, 10)}


def test_duplicates_within_one_landing_collapse(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    report = BronzeWriter(store).land([envelope(1), envelope(1), envelope(2)])
    assert report.records == 2
