"""The serving-store interface: what loaders write and what the API reads.

Two implementations keep one contract (``tests/pipelines/serving/test_store_contract.py``):
DuckDB, embedded, the default; TimescaleDB, the production store. Both implement it through
``pipelines.serving._sql_store.SqlStore``, which holds the logic they share. Loads are
idempotent upserts: loading the same rows twice leaves the store as loading them once.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa

from pipelines.core.resources import Closeable
from pipelines.reference.model import Asset

Resolution = Literal["1h", "1d"]
RESOLUTIONS: tuple[Resolution, ...] = ("1h", "1d")

#: Arrow schema of the bars handed to :meth:`ServingStore.upsert_ohlcv`.
_OHLCV_FIELDS: list[pa.Field[Any]] = [
    pa.field("asset_id", pa.string(), nullable=False),
    pa.field("resolution", pa.string(), nullable=False),
    pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("open", pa.float64(), nullable=False),
    pa.field("high", pa.float64(), nullable=False),
    pa.field("low", pa.float64(), nullable=False),
    pa.field("close", pa.float64(), nullable=False),
    pa.field("volume", pa.float64(), nullable=False),
]
OHLCV_SCHEMA = pa.schema(_OHLCV_FIELDS)


@dataclass(frozen=True, slots=True)
class OhlcvBar:
    """One bar as read back from the store; ``ts`` is the UTC start of the bucket."""

    ts: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass(frozen=True, slots=True)
class StoreHealth:
    backend: str
    ok: bool
    detail: str


class ServingStore(Closeable):
    """Read/write access to the serving store. Use as a context manager or call close()."""

    backend: ClassVar[str]

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema; safe to call on every start."""

    @abstractmethod
    def upsert_assets(self, assets: list[Asset]) -> int:
        """Insert or replace assets by ``asset_id``; returns rows written."""

    @abstractmethod
    def upsert_ohlcv(self, bars: pa.Table) -> int:
        """Insert or replace bars keyed by (asset_id, resolution, ts); ``bars`` has
        :data:`OHLCV_SCHEMA`. Returns rows written."""

    @abstractmethod
    def list_assets(self, asset_class: str | None = None) -> list[Asset]:
        """All assets ordered by ``asset_id``, optionally of one class."""

    @abstractmethod
    def get_asset(self, asset_id: str) -> Asset | None:
        """One asset, or None when unknown."""

    @abstractmethod
    def ohlcv(
        self,
        asset_id: str,
        resolution: Resolution,
        start: dt.datetime | None = None,
        end: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[OhlcvBar]:
        """Bars with ``start <= ts < end`` in time order (the newest ``limit`` when set)."""

    @abstractmethod
    def table_counts(self) -> dict[str, int]:
        """Row count per served table (assets, ohlcv per resolution)."""

    @abstractmethod
    def health(self) -> StoreHealth:
        """Whether the store answers a trivial query; never raises."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
