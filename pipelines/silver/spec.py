"""What a silver dataset is, declared once: its table contract and the parsers that feed it.

A :class:`DatasetSpec` names the Delta table, its declared Arrow schema (the contract of
``docs/data-model.md``), key and partitions, and the :class:`PayloadParser` of every
(source, payload shape) that lands in its bronze folder. The generic streaming job
(:mod:`pipelines.silver.stream`) and the Spark parsing engine (:mod:`pipelines.silver.parsing`) do
everything else, so adding a source is one small parser class, and adding a dataset is one spec.

The parsers are the sources' own (:mod:`pipelines.ingestion.payloads` is their base): the
ingestion registry lists them per dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from pipelines.ingestion.payloads import IgnoredEndpoint, PayloadParser

#: Lineage columns every silver table carries (docs/data-model.md).
LINEAGE = (
    pa.field("source", pa.string()),
    pa.field("ingest_id", pa.string()),
    pa.field("fetched_at", pa.timestamp("us", tz="UTC")),
    pa.field("bronze_file", pa.string()),
)
UTC_TS = pa.timestamp("us", tz="UTC")

#: Latest fetch wins; ingest_id breaks ties so the outcome never depends on batch order.
NEWER = "s.fetched_at > t.fetched_at OR (s.fetched_at = t.fetched_at AND s.ingest_id > t.ingest_id)"
#: A backfill reprocesses fetches already in silver: the same fetch replaces its stored row (so
#: a fixed parser's output lands), an older one still never does.
NOT_OLDER = (
    "s.fetched_at > t.fetched_at OR (s.fetched_at = t.fetched_at AND s.ingest_id >= t.ingest_id)"
)


@dataclass(frozen=True)
class DatasetSpec:
    """One silver dataset: table contract plus the parsers of every source that feeds it."""

    name: str
    schema: pa.Schema
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    parsers: tuple[PayloadParser, ...]
    ignored: tuple[IgnoredEndpoint, ...] = ()
    #: The date column saying which day a record is about (gold's days follow it).
    day_column: str = "date"

    def __post_init__(self) -> None:
        declared = (*self.keys, *self.partition_by, self.day_column)
        missing = [c for c in declared if c not in self.schema.names]
        if missing:
            raise ValueError(
                f"silver/{self.name}: key/partition/day columns {missing} not declared"
            )

    @property
    def app_id(self) -> str:
        """Prefix of the Delta application-transaction ids of this dataset's stream."""
        return f"silver.{self.name}"

    @property
    def checkpoint_name(self) -> str:
        return f"silver_{self.name}"


def silver_schema(*fields: pa.Field[Any]) -> pa.Schema:
    """A silver table's schema: its own columns, then the lineage columns. Every column is
    nullable in Delta (keys are guaranteed non-null by the parsers and the gate), so a table
    never needs a nullability migration when a source stops sending a metric."""
    return pa.schema([f.with_nullable(True) for f in (*fields, *LINEAGE)])
