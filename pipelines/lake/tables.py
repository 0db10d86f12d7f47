"""Every table of the lake by the name the pipeline and Dagster give it (``gold/ohlcv_1h``):
a view over the declarations in :mod:`pipelines.contracts`, never a list of its own.

* ``bronze/<dataset>``: the raw envelopes (JSON lines, partitioned by source/dataset/date of
  fetch), one per dataset of :data:`~pipelines.contracts.envelope.DATASETS`;
* ``silver/<name>``: :data:`~pipelines.contracts.silver.SILVER_TABLES`;
* ``gold/<name>``: :data:`~pipelines.contracts.gold.GOLD_TABLES` and the tables the models
  write, :data:`~pipelines.contracts.gold.MODEL_TABLES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pipelines.contracts.envelope import DATASETS
from pipelines.contracts.gold import GOLD_TABLES, MODEL_TABLES
from pipelines.contracts.silver import SILVER_TABLES
from pipelines.lake.errors import UnknownTableError

Layer = Literal["bronze", "silver", "gold"]
LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold")


@dataclass(frozen=True, slots=True)
class LakeTable:
    """One table of the lake: where it lives (``layer/name``), its key and partitioning, and
    the column a time window filters on (None: derived from the schema, see
    :func:`time_column_of`)."""

    layer: Layer
    name: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    time_column: str | None = None

    @property
    def qualified(self) -> str:
        """``layer/name``, the name a reader passes."""
        return f"{self.layer}/{self.name}"


def _declared() -> dict[str, LakeTable]:
    tables = [
        *(
            LakeTable("bronze", d, ("ingest_id",), ("source", "dataset", "date"), "fetched_at")
            for d in DATASETS
        ),
        *(LakeTable("silver", t.name, t.keys, t.partition_by, None) for t in SILVER_TABLES),
        *(
            LakeTable("gold", t.name, t.key, t.partition_by, t.time_column)
            for t in (*GOLD_TABLES, *MODEL_TABLES)
        ),
    ]
    return {table.qualified: table for table in tables}


#: Every table of the lake by ``layer/name``, bronze, silver then gold.
LAKE_TABLES: Mapping[str, LakeTable] = _declared()


def lake_table(name: str) -> LakeTable:
    """The table called ``name`` (``gold/ohlcv_1h``; ``gold.ohlcv_1h`` as in SQL works too).

    Raises :class:`UnknownTableError` naming the closest table names."""
    key = name.strip().replace(".", "/", 1) if "/" not in name else name.strip()
    table = LAKE_TABLES.get(key)
    if table is None:
        raise UnknownTableError(name, list(LAKE_TABLES))
    return table


#: Time columns a table without a declared one is windowed on, in order of preference: the
#: bar or observation instant, then its day.
_TIME_PREFERENCE = ("ts", "date")


def time_column_of(table: LakeTable, columns: list[str], timestamps: list[str]) -> str | None:
    """The column a time window filters ``table`` on: the declared one, else ``ts`` or
    ``date``, else the first time stamp column of the schema (``timestamps``, e.g. the
    quarantine's ``fetched_at``); None when it has none."""
    if table.time_column is not None:
        return table.time_column
    preferred = next((c for c in _TIME_PREFERENCE if c in columns), None)
    return preferred or next(iter(timestamps), None)
