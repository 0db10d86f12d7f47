"""What a silver dataset is, declared once: its table contract and the parsers that feed it.

A :class:`DatasetSpec` pairs the Delta table's contract (:mod:`pipelines.contracts.silver`:
name, declared Arrow schema, key, partitions, day column) with the :class:`PayloadParser` of
every (source, payload shape) that lands in its bronze folder. The generic streaming step
(:mod:`pipelines.silver.stream`) and the Spark parsing engine (:mod:`pipelines.silver.parsing`) do
everything else, so adding a source is one small parser class, and adding a dataset is one
table contract.

The parsers are the sources' own (:mod:`pipelines.ingestion.payloads` is their base): the
ingestion registry lists them per dataset.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from pipelines.contracts.tables import TableContract
from pipelines.ingestion.payloads import IgnoredEndpoint, PayloadParser

#: Latest fetch wins; ingest_id breaks ties so the outcome never depends on batch order.
NEWER = "s.fetched_at > t.fetched_at OR (s.fetched_at = t.fetched_at AND s.ingest_id > t.ingest_id)"
#: A backfill reprocesses fetches already in silver: the same fetch replaces its stored row (so
#: a fixed parser's output lands), an older one still never does.
NOT_OLDER = (
    "s.fetched_at > t.fetched_at OR (s.fetched_at = t.fetched_at AND s.ingest_id >= t.ingest_id)"
)


@dataclass(frozen=True)
class DatasetSpec:
    """One silver dataset: its table contract plus the parsers of every source that feeds it."""

    table: TableContract
    parsers: tuple[PayloadParser, ...]
    ignored: tuple[IgnoredEndpoint, ...] = ()

    def __post_init__(self) -> None:
        if self.table.day_column is None:
            raise ValueError(f"silver/{self.table.name}: a dataset table needs a day column")

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    @property
    def keys(self) -> tuple[str, ...]:
        return self.table.keys

    @property
    def partition_by(self) -> tuple[str, ...]:
        return self.table.partition_by

    @property
    def day_column(self) -> str:
        """The date column saying which day a record is about (gold's days follow it)."""
        return self.table.day_column or ""

    @property
    def app_id(self) -> str:
        """Prefix of the Delta application-transaction ids of this dataset's stream."""
        return f"silver.{self.name}"

    @property
    def checkpoint_name(self) -> str:
        return f"silver_{self.name}"
