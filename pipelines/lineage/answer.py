"""What a lineage answer holds: the served row and each layer's rows behind it, down to the
bronze lines and the raw envelopes as they were fetched."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

Row = dict[str, Any]


class LineageQueryError(ValueError):
    """A lineage question that cannot be asked (unknown measure, missing resolution, ...):
    the API answers 422 naming ``field``."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True, slots=True)
class LineageQuery:
    """An asset, a time and a measure; ``resolution`` for a bar's measures."""

    asset_id: str
    ts: dt.datetime
    measure: str
    resolution: str | None = None


@dataclass(frozen=True, slots=True)
class JobRun:
    """The Delta commit that wrote a gold row's day, with the run stamped on it (None for a
    commit made before runs were stamped)."""

    table: str
    version: int
    committed_at: dt.datetime
    operation: str
    run_id: str | None
    job: str | None
    days: str | None


@dataclass(frozen=True, slots=True)
class BronzeRef:
    """Where a silver record came from: the bronze object, the line (1-based) of its envelope
    and the record's place in that envelope's payload (``payload[3]``, ``observations[0]``;
    None when no single element of the payload names the record's time)."""

    object_key: str
    line: int | None
    ingest_id: str
    element: str | None = None
    item: Any = None


@dataclass(frozen=True, slots=True)
class SilverRecord:
    table: str
    row: Row
    bronze: BronzeRef


@dataclass(frozen=True, slots=True)
class Envelope:
    """One raw envelope as fetched: the bronze line, parsed (``payload`` untouched)."""

    object_key: str
    line: int
    envelope: Row


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A refused record: its quarantine row (``reason``, ``raw``) and where it came from."""

    row: Row
    bronze: BronzeRef


@dataclass(frozen=True, slots=True)
class ModelRef:
    """The model behind a served model output: version, and the data it was fitted on."""

    version: str
    created_at: dt.datetime | None = None
    training_window: dict[str, Any] | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Lineage:
    """The chain behind one served number (see :func:`pipelines.lineage.trace`)."""

    query: LineageQuery
    value: Any = None
    served: Row | None = None
    served_table: str | None = None
    gold_table: str | None = None
    gold: Row | None = None
    run: JobRun | None = None
    silver: list[SilverRecord] = field(default_factory=list)
    envelopes: list[Envelope] = field(default_factory=list)
    quarantine: list[Quarantined] = field(default_factory=list)
    model: ModelRef | None = None
    #: Inputs traced in their own right (a feature's daily bar, a prediction's last close).
    inputs: list[Lineage] = field(default_factory=list)
    #: Whether what silver holds now rebuilds the gold row (name -> held).
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready but for datetimes and decimals)."""
        return dataclasses.asdict(self)
