"""Landing the simulated source partition by partition (``steps.land_by_partition``) writes
exactly the objects one landing of everything writes, holding a bounded number of whole
partitions at a time."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.bronze.writer import BronzeWriter, LandingReport
from pipelines.contracts.envelope import RawEnvelope
from pipelines.ingestion.simulated.transfers import PageCursor
from pipelines.lake.objects import LocalObjectStore
from pipelines.steps import land_by_partition, payload_records
from tests.pipelines.ingestion.simulated.sim_factory import ASSETS, source


def _partition(envelope: RawEnvelope) -> tuple[str, str, dt.date]:
    return envelope.source, envelope.dataset, envelope.fetched_date


def _objects(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


class _Spy(BronzeWriter):
    """Remembers how many envelopes each landing held."""

    def __init__(self, root: Path) -> None:
        super().__init__(LocalObjectStore(root))
        self.held: list[int] = []

    def land(self, envelopes: Iterable[RawEnvelope]) -> LandingReport:
        held = list(envelopes)
        self.held.append(len(held))
        return super().land(held)


def test_partition_by_partition_writes_the_objects_of_one_landing(tmp_path: Path) -> None:
    simulated = source(ASSETS[:4], days=5, fault_rate=0.01)
    everything = list(simulated.collect(simulated.window))
    whole = BronzeWriter(LocalObjectStore(tmp_path / "whole")).land(everything)
    spy = _Spy(tmp_path / "parts")
    parts = land_by_partition(spy, iter(everything), batch_envelopes=10)
    assert _objects(tmp_path / "parts") == _objects(tmp_path / "whole")
    assert (parts.records, parts.objects_written, parts.keys) == (
        whole.records,
        whole.objects_written,
        whole.keys,
    )
    # Whole partitions gathered up to the bound: each landing but the last reaches it and
    # exceeds it by less than one partition (here at most one envelope per asset).
    largest = max(len(list(run)) for _, run in itertools.groupby(everything, key=_partition))
    assert len(spy.held) > 3 and sum(spy.held) == len(everything)
    assert all(10 <= held < 10 + largest for held in spy.held[:-1])
    assert spy.held[-1] < 10 + largest


def test_the_default_bound_lands_the_demo_window_in_few_landings(tmp_path: Path) -> None:
    simulated = source(ASSETS[:4], days=5)
    everything = list(simulated.collect(simulated.window))
    spy = _Spy(tmp_path)
    land_by_partition(spy, iter(everything))
    assert spy.held == [len(everything)]  # under 1,000 envelopes: one landing, one durable wait


def test_landings_are_bounded_by_payload_records_too(tmp_path: Path) -> None:
    """Quarter-hour bars make each prices envelope 4x an hourly one: a bound on envelopes alone
    let what is held grow with the bar frequency."""
    simulated = source(ASSETS[:4], days=5, frequency="15m")
    everything = list(simulated.collect(simulated.window))
    whole = BronzeWriter(LocalObjectStore(tmp_path / "whole")).land(everything)
    spy = _Spy(tmp_path / "parts")
    land_by_partition(spy, iter(everything), batch_records=500)
    assert _objects(tmp_path / "parts") == _objects(tmp_path / "whole")
    assert whole.objects_written == len(_objects(tmp_path / "parts"))
    # Far below the 1,000-envelope bound, yet landed in several landings.
    assert len(everything) < 1_000 and len(spy.held) >= 3 and sum(spy.held) == len(everything)


def test_payload_records_count_list_items() -> None:
    assert payload_records([{"a": 1}, {"a": 2}]) == 2
    assert payload_records({"status": "ok", "articles": [1, 2, 3], "blocks": [4]}) == 4
    assert payload_records({"observations": []}) == 1
    assert payload_records("text") == 1


def test_a_partition_met_again_fails(tmp_path: Path) -> None:
    simulated = source(ASSETS[:2], days=2)
    envelopes = list(simulated.collect(simulated.window))
    first, rest = envelopes[:1], envelopes[1:]
    broken = itertools.chain(first, rest, first)
    with pytest.raises(RuntimeError, match="do not come together"):
        land_by_partition(BronzeWriter(LocalObjectStore(tmp_path)), broken)


def test_transfer_pages_made_day_by_day_equal_any_order_of_asking() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(4)]
    made: list[dt.date] = []

    def pages() -> Iterator[tuple[dt.date, dict[str, Any]]]:
        for day in days:
            made.append(day)
            yield day, {"day": day.isoformat()}

    cursor = PageCursor(pages)
    assert [cursor.page(day) for day in days] == [{"day": d.isoformat()} for d in days]
    assert made == days  # in order: each page made once
    assert cursor.page(days[1]) == {"day": days[1].isoformat()}  # back: starts again
    assert cursor.page(days[3] + dt.timedelta(days=1)) is None
    assert cursor.page(days[0]) == {"day": days[0].isoformat()}
