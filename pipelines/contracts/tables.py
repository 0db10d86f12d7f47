"""What a table contract is: a lake table's name, Arrow schema, key and partitioning."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class TableContract:
    """One Delta table of the lake, declared: ``<layer>/<name>``, unique by ``keys``."""

    name: str
    schema: pa.Schema
    keys: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    #: The date column saying which day a row is about (gold's days follow it); None for
    #: tables whose rows are about no day (the quarantine, the ledger).
    day_column: str | None = None

    def __post_init__(self) -> None:
        declared = (*self.keys, *self.partition_by, *([self.day_column] if self.day_column else []))
        missing = [c for c in declared if c not in self.schema.names]
        if missing:
            raise ValueError(f"{self.name}: key/partition/day columns {missing} not declared")
