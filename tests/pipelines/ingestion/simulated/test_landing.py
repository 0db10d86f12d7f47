"""Landing the simulated source partition by partition (``steps.land_by_partition``) writes
exactly the objects one landing of everything writes, holding one partition at a time."""

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
from pipelines.steps import land_by_partition
from tests.pipelines.ingestion.simulated.sim_factory import ASSETS, source


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
    parts = land_by_partition(spy, iter(everything))
    assert _objects(tmp_path / "parts") == _objects(tmp_path / "whole")
    assert (parts.records, parts.objects_written, parts.keys) == (
        whole.records,
        whole.objects_written,
        whole.keys,
    )
    # One partition at a time: never more than a day of one dataset.
    assert len(spy.held) > 5 and max(spy.held) < len(everything) / 5


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
